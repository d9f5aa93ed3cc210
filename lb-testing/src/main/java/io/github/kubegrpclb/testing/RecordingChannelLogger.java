package io.github.kubegrpclb.testing;

import io.grpc.ChannelLogger;
import java.text.MessageFormat;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link ChannelLogger} that keeps every message, formatted as grpc-java formats them ({@link
 * MessageFormat}), prefixed with its level: {@code "INFO: ..."}. Thread-safe.
 */
public final class RecordingChannelLogger extends ChannelLogger {
  private final List<String> messages = new CopyOnWriteArrayList<>();

  @Override
  public void log(ChannelLogLevel level, String message) {
    messages.add(level + ": " + message);
  }

  @Override
  public void log(ChannelLogLevel level, String messageFormat, Object... args) {
    log(level, MessageFormat.format(messageFormat, args));
  }

  /** Every message so far, a live read-only view. */
  public List<String> messages() {
    return Collections.unmodifiableList(messages);
  }

  /** How many messages so far contain {@code text}. */
  public long count(String text) {
    return messages.stream().filter(m -> m.contains(text)).count();
  }
}
