package io.github.kubegrpclb.sharding;

import static io.grpc.ConnectivityState.READY;
import static io.grpc.ConnectivityState.TRANSIENT_FAILURE;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The slots of a {@link ShardPool}: the shard each one holds now, and the round robin that spreads
 * calls over them. A slot changes only when the pool dials it or swaps a replacement in.
 *
 * <p>Thread-safe: reads and {@link #newCall} are lock-free from any thread; {@link #set} runs in
 * the pool's synchronization context only.
 */
final class ShardSlots {
  private final AtomicReferenceArray<Shard> slots;
  private final AtomicInteger next = new AtomicInteger();

  /** {@code size} slots, empty (null) until {@link #set}. */
  ShardSlots(int size) {
    this.slots = new AtomicReferenceArray<>(size);
  }

  int size() {
    return slots.length();
  }

  Shard get(int slot) {
    return slots.get(slot);
  }

  /** Puts {@code shard} in its slot: new calls go to it from here on. */
  void set(Shard shard) {
    slots.set(shard.slot, shard);
  }

  /** The shards now in the slots, in slot order (null for a slot not dialed yet). */
  List<Shard> shards() {
    List<Shard> shards = new ArrayList<>(slots.length());
    for (int slot = 0; slot < slots.length(); slot++) {
      shards.add(slots.get(slot));
    }
    return shards;
  }

  /** The slot the next call starts looking from: the next one in turn (atomic round robin). */
  int nextStart() {
    return Math.floorMod(next.getAndIncrement(), slots.length());
  }

  /**
   * A call on the first READY shard from slot {@code start} on; when none is READY, on the first
   * shard not in TRANSIENT_FAILURE, whose channel holds the call until it connects.
   */
  <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options, int start) {
    int n = slots.length();
    for (int pass = 0; pass < 3; pass++) {
      for (int k = 0; k < n; k++) {
        Shard shard = slots.get((start + k) % n);
        ConnectivityState shardState = shard.channel.getState(false);
        boolean eligible =
            pass == 0 ? shardState == READY : pass == 2 || shardState != TRANSIENT_FAILURE;
        if (eligible) {
          // null: retired and closed since we read the slot; its replacement is there now.
          ClientCall<ReqT, RespT> call = shard.newCall(method, options);
          if (call != null) {
            return call;
          }
        }
      }
    }
    return slots.get(start).channel.newCall(method, options);
  }
}
