package io.github.kubegrpclb.dns;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Runs asynchronous lookups in order, at most a given number in flight at once, and collects their
 * results in the order of the lookups. {@link DnsLookup} uses it for the A/AAAA lookups of SRV
 * targets, so that an answer naming many pods does not become one burst of queries. Thread-safe and
 * stateless: each {@link #run} keeps its progress in its own atomic counter, and a lookup that ends
 * starts the next one on whichever thread completed it.
 */
final class BoundedInFlight {
  private BoundedInFlight() {}

  /**
   * Starts the lookups, at most {@code maxInFlight} at a time; the stage completes with all their
   * results in order, or fails with the first failure (a bug in a lookup: never hang).
   */
  static <T> CompletionStage<List<T>> run(
      List<Supplier<CompletionStage<T>>> lookups, int maxInFlight) {
    List<CompletableFuture<T>> done = new ArrayList<>(lookups.size());
    for (int i = 0; i < lookups.size(); i++) {
      done.add(new CompletableFuture<>());
    }
    // An answer naming 1,000 pods must not send 1,000 queries to the cluster DNS in one burst
    // (against a loopback test server, about a quarter of such a burst was dropped and timed out).
    // Lookups that complete at once (served from the additional section) take no slot for long.
    AtomicInteger next = new AtomicInteger();
    for (int slot = 0; slot < Math.min(lookups.size(), maxInFlight); slot++) {
      startNext(lookups, done, next);
    }
    return CompletableFuture.allOf(done.toArray(new CompletableFuture<?>[0]))
        .thenApply(
            all -> {
              List<T> results = new ArrayList<>(done.size());
              done.forEach(lookup -> results.add(lookup.join()));
              return List.copyOf(results);
            });
  }

  /**
   * Starts lookups until one is still running (it starts the next when it ends) or none is left.
   */
  private static <T> void startNext(
      List<Supplier<CompletionStage<T>>> lookups,
      List<CompletableFuture<T>> done,
      AtomicInteger next) {
    for (int i = next.getAndIncrement(); i < lookups.size(); i = next.getAndIncrement()) {
      CompletableFuture<T> lookup = lookups.get(i).get().toCompletableFuture();
      CompletableFuture<T> result = done.get(i);
      boolean running = !lookup.isDone();
      // Its errors go to result; the stage whenComplete returns has nothing more to say.
      CompletableFuture<?> unused =
          lookup.whenComplete(
              (value, error) -> {
                if (error != null) {
                  result.completeExceptionally(error); // a bug: fail the resolution, never hang
                } else {
                  result.complete(value);
                }
                if (running) {
                  startNext(lookups, done, next);
                }
              });
      if (running) {
        return;
      }
    }
  }
}
