package io.github.kubegrpclb.core.internal;

/**
 * Records what one sharded channel does: recycles, re-dials and abandoned replacements, and
 * (through the suppliers it was created with) its shards by connectivity state and the distinct
 * pods they reach. Called in the sharded channel's SynchronizationContext.
 */
public interface ShardTelemetry {
  /** Recycle reason: the shard reached the sharded channel's own maximum connection age. */
  String MAX_AGE = "max_age";

  /** Recycle reason: the shard reached a pod another shard already covers, and was re-dialed. */
  String DUPLICATE_POD = "duplicate_pod";

  /**
   * Recycle reason: the shard's connection left READY (the server's GOAWAY at its {@code
   * maxConnectionAge}, a pod stopping, a lost connection, an idle timeout) and was reconnected.
   */
  String CONNECTION_CLOSED = "connection_closed";

  /** Records nothing. */
  ShardTelemetry NOOP =
      new ShardTelemetry() {
        @Override
        public void recycled(String reason) {}

        @Override
        public void replacementAbandoned(String reason) {}

        @Override
        public void redial(boolean refused) {}

        @Override
        public void close() {}
      };

  /** A shard got a new connection, for {@code reason} (one of the constants above). */
  void recycled(String reason);

  /** A replacement for {@code reason} was not READY in time; the old shard was kept. */
  void replacementAbandoned(String reason);

  /**
   * A shard reached a duplicate pod: re-dialed, or {@code refused} because the re-dial budget of
   * the period was spent.
   */
  void redial(boolean refused);

  /** The sharded channel shut down: stops its gauges. */
  void close();
}
