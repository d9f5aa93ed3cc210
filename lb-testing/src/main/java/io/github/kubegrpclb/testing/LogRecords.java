package io.github.kubegrpclb.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what one java.util.logging logger (and its children) logs at {@code level} and above,
 * until closed; for tests that check a warning is logged, and only once. Thread-safe.
 */
public final class LogRecords implements AutoCloseable {
  private final Logger logger;
  private final Level previousLevel;
  private final List<LogRecord> records = new ArrayList<>();
  private final Handler handler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          synchronized (records) {
            records.add(record);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  private LogRecords(String loggerName, Level level) {
    this.logger = Logger.getLogger(loggerName);
    this.previousLevel = logger.getLevel();
    handler.setLevel(level);
    logger.setLevel(level);
    logger.addHandler(handler);
  }

  /** Starts recording {@code loggerName}'s records at {@code level} and above. */
  public static LogRecords capture(String loggerName, Level level) {
    return new LogRecords(loggerName, level);
  }

  /** Starts recording the records of {@code type}'s logger (its class name) at WARNING and up. */
  public static LogRecords warnings(Class<?> type) {
    return capture(type.getName(), Level.WARNING);
  }

  /** The records so far, oldest first (a copy). */
  public List<LogRecord> records() {
    synchronized (records) {
      return List.copyOf(records);
    }
  }

  /** The messages recorded so far, formatted, oldest first. */
  public List<String> messages() {
    List<String> out = new ArrayList<>();
    synchronized (records) {
      for (LogRecord record : records) {
        out.add(
            record.getParameters() == null
                ? record.getMessage()
                : java.text.MessageFormat.format(record.getMessage(), record.getParameters()));
      }
    }
    return out;
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
    logger.setLevel(previousLevel);
  }
}
