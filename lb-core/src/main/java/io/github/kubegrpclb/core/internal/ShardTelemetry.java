package io.github.kubegrpclb.core.internal;

/**
 * Records what one sharded channel does: recycles and re-dials, and (through the suppliers it was
 * created with) its shards by connectivity state and the distinct pods they reach. Thread-safe.
 */
public interface ShardTelemetry {
  /** Records nothing. */
  ShardTelemetry NOOP =
      new ShardTelemetry() {
        @Override
        public void recycled() {}

        @Override
        public void redialed() {}

        @Override
        public void close() {}
      };

  /** A shard's channel was replaced to reach another pod. */
  void recycled();

  /** A shard's connection was dropped and dialled again. */
  void redialed();

  /** The sharded channel shut down: stops its gauges. */
  void close();
}
