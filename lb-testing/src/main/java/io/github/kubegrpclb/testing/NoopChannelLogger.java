package io.github.kubegrpclb.testing;

import io.grpc.ChannelLogger;

/** A {@link ChannelLogger} that drops every message. Stateless. */
public final class NoopChannelLogger extends ChannelLogger {
  /** The instance. */
  public static final NoopChannelLogger INSTANCE = new NoopChannelLogger();

  private NoopChannelLogger() {}

  @Override
  public void log(ChannelLogLevel level, String message) {}

  @Override
  public void log(ChannelLogLevel level, String messageFormat, Object... args) {}
}
