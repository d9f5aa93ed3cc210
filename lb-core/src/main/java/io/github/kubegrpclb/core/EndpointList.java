package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.PickResult;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.Objects;
import java.util.RandomAccess;
import javax.annotation.Nullable;

/**
 * An ordered set of endpoints kept side by side with the columns a picker reads (each endpoint's
 * unary and stream pick results and its policy state), so that a picker over the set copies
 * nothing: it keeps the arrays and a length ({@link Snapshot}). Copy on write, as pickers need it:
 * the slots a snapshot was taken over are never written again. Adding appends after them, amortized
 * O(1); removing from them copies the arrays once (one O(n) array copy), and removing a slot no
 * snapshot has seen shifts in place. Members stay in the order they joined.
 *
 * <p>Not thread-safe: written in the SynchronizationContext. A snapshot is immutable; once
 * published (grpc-java publishes pickers with a volatile write) any thread may read it.
 *
 * @param <T> the policy's per-endpoint state
 */
final class EndpointList<T> {
  private Object[] endpoints;
  private PickResult[] unary;
  private PickResult[] stream;
  private Object[] states;
  private int size;
  private int shared; // slots below this index belong to a snapshot: never written again
  @Nullable private Snapshot<T> snapshot; // over [0, size), or null when it must be taken again

  EndpointList(int capacity) {
    allocate(Math.max(capacity, 4));
  }

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  /**
   * Appends {@code endpoint} with the results its pickers hand out.
   *
   * @param results {unary, stream}, as the policy builds them
   */
  void add(Endpoint<T> endpoint, PickResult[] results) {
    if (size == endpoints.length) {
      copyWithout(-1, size * 2);
    }
    endpoints[size] = endpoint;
    unary[size] = results[0];
    stream[size] = results[1];
    states[size] = endpoint.policyState();
    size++;
    snapshot = null;
  }

  /** Removes {@code endpoint}, keeping the others' order; throws if it is not a member. */
  void remove(Endpoint<T> endpoint) {
    int index = -1;
    for (int i = size - 1; i >= 0; i--) { // a recent member is likelier to leave again
      if (endpoints[i] == endpoint) {
        index = i;
        break;
      }
    }
    if (index < 0) {
      throw new IllegalStateException("not a member: " + endpoint);
    }
    if (index < shared) {
      copyWithout(index, endpoints.length);
    } else {
      int tail = size - index - 1;
      System.arraycopy(endpoints, index + 1, endpoints, index, tail);
      System.arraycopy(unary, index + 1, unary, index, tail);
      System.arraycopy(stream, index + 1, stream, index, tail);
      System.arraycopy(states, index + 1, states, index, tail);
      endpoints[size - 1] = null;
      unary[size - 1] = null;
      stream[size - 1] = null;
      states[size - 1] = null;
    }
    size--;
    snapshot = null;
  }

  /** The members as of now; the same object until the next change. */
  Snapshot<T> snapshot() {
    if (snapshot == null) {
      snapshot = new Snapshot<>(endpoints, unary, stream, states, size);
      shared = size;
    }
    return snapshot;
  }

  /** Moves the members to fresh arrays of {@code capacity}, leaving out {@code skip} (or none). */
  private void copyWithout(int skip, int capacity) {
    Object[] oldEndpoints = endpoints;
    PickResult[] oldUnary = unary;
    PickResult[] oldStream = stream;
    Object[] oldStates = states;
    allocate(capacity);
    int head = skip < 0 ? size : skip;
    System.arraycopy(oldEndpoints, 0, endpoints, 0, head);
    System.arraycopy(oldUnary, 0, unary, 0, head);
    System.arraycopy(oldStream, 0, stream, 0, head);
    System.arraycopy(oldStates, 0, states, 0, head);
    if (skip >= 0) {
      int tail = size - skip - 1;
      System.arraycopy(oldEndpoints, skip + 1, endpoints, skip, tail);
      System.arraycopy(oldUnary, skip + 1, unary, skip, tail);
      System.arraycopy(oldStream, skip + 1, stream, skip, tail);
      System.arraycopy(oldStates, skip + 1, states, skip, tail);
    }
    shared = 0;
  }

  private void allocate(int capacity) {
    endpoints = new Object[capacity];
    unary = new PickResult[capacity];
    stream = new PickResult[capacity];
    states = new Object[capacity];
  }

  /**
   * An immutable view of a list's members as of one moment, and the arrays pickers read. The arrays
   * may be longer than {@link #size()}: only the first {@code size()} slots are the snapshot's, and
   * nothing writes them again. Equality is the list's: same endpoints, same order.
   */
  static final class Snapshot<T> extends AbstractList<Endpoint<T>> implements RandomAccess {
    private static final Snapshot<?> EMPTY =
        new Snapshot<>(new Object[0], new PickResult[0], new PickResult[0], new Object[0], 0);

    private final Object[] endpoints;
    private final PickResult[] unary;
    private final PickResult[] stream;
    private final Object[] states;
    private final int size;

    private Snapshot(
        Object[] endpoints, PickResult[] unary, PickResult[] stream, Object[] states, int size) {
      this.endpoints = endpoints;
      this.unary = unary;
      this.stream = stream;
      this.states = states;
      this.size = size;
    }

    @SuppressWarnings("unchecked")
    static <T> Snapshot<T> empty() {
      return (Snapshot<T>) EMPTY;
    }

    @SuppressWarnings("unchecked")
    @Override
    public Endpoint<T> get(int index) {
      Objects.checkIndex(index, size);
      return (Endpoint<T>) endpoints[index];
    }

    @Override
    public int size() {
      return size;
    }

    /** Each member's unary pick result, in the first {@code size()} slots; never modify. */
    PickResult[] unaryResults() {
      return unary;
    }

    /** Each member's stream pick result, in the first {@code size()} slots; never modify. */
    PickResult[] streamResults() {
      return stream;
    }

    /** Each member's policy state ({@code T}), in the first {@code size()} slots; never modify. */
    Object[] states() {
      return states;
    }

    /** Whether {@code other} is over the same slots of the same arrays (so equal, in O(1)). */
    boolean sameSlots(Snapshot<?> other) {
      return other.endpoints == endpoints && other.size == size;
    }

    /**
     * Whether {@code other} has the same members in the same order and hands out the same pick
     * results (results are rebuilt when the policy config changes): O(1) over the same slots, O(n)
     * otherwise.
     */
    boolean sameMembersAndResults(Snapshot<?> other) {
      return equals(other)
          && sameObjects(unary, other.unary, size)
          && sameObjects(stream, other.stream, size);
    }

    @Override
    public boolean equals(Object other) {
      if (other instanceof Snapshot<?> that) {
        return that.size == size
            && (sameSlots(that) || Arrays.equals(endpoints, 0, size, that.endpoints, 0, that.size));
      }
      return super.equals(other);
    }

    @Override
    public int hashCode() {
      return super.hashCode();
    }
  }

  /**
   * Whether the first {@code size} results of two pickers are the same objects: results are built
   * once per endpoint and config, so identity means "same endpoints, same config, same counting".
   */
  @SuppressWarnings("ReferenceEquality") // identity on purpose, see above
  static boolean sameObjects(PickResult[] a, PickResult[] b, int size) {
    if (a == b) {
      return true;
    }
    for (int i = 0; i < size; i++) {
      if (a[i] != b[i]) {
        return false;
      }
    }
    return true;
  }

  /** Whether the first {@code size} results of two pickers name the same subchannels in order. */
  static boolean sameSubchannels(PickResult[] a, PickResult[] b, int size) {
    if (a == b) {
      return true;
    }
    for (int i = 0; i < size; i++) {
      if (a[i].getSubchannel() != b[i].getSubchannel()) {
        return false;
      }
    }
    return true;
  }
}
