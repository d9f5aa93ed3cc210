package io.github.kubegrpclb.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A clock that moves only when a test says so, with a scheduler whose tasks run, on the calling
 * thread, when time is forwarded past their deadline. Makes timing tests exact without sleeping.
 *
 * <p>Thread-safe: time reads are atomic and the task queue is guarded by this object's lock; tasks
 * run outside the lock.
 */
public final class FakeClock {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final PriorityQueue<Task<?>> queue = new PriorityQueue<>();
  private final Scheduler scheduler = new Scheduler();
  private long sequence;

  /** Current time in nanoseconds; monotonic, as {@link System#nanoTime}. */
  public long nanoTime() {
    return nanos.get();
  }

  /** This clock as a nano-time supplier. */
  public LongSupplier ticker() {
    return this::nanoTime;
  }

  /** A scheduler driven by this clock. {@code shutdown} only marks it shut down. */
  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /** Advances time by {@code amount}, running each due task in deadline order. */
  public void forward(Duration amount) {
    long target = nanos.get() + amount.toNanos();
    while (true) {
      Task<?> task;
      synchronized (this) {
        task = queue.peek();
        if (task == null || task.deadline > target) {
          break;
        }
        queue.poll();
      }
      nanos.set(Math.max(nanos.get(), task.deadline));
      task.run();
    }
    nanos.set(target);
  }

  /** Runs tasks already due without moving time. */
  public void runDueTasks() {
    forward(Duration.ZERO);
  }

  /** Tasks waiting to run (cancelled ones excluded). */
  public synchronized int pendingTasks() {
    int count = 0;
    for (Task<?> task : queue) {
      if (!task.isCancelled()) {
        count++;
      }
    }
    return count;
  }

  /** Deadlines, relative to now, of the tasks waiting to run, soonest first. */
  public synchronized List<Duration> pendingDelays() {
    List<Task<?>> tasks = new ArrayList<>(queue);
    tasks.sort(null);
    List<Duration> delays = new ArrayList<>();
    for (Task<?> task : tasks) {
      if (!task.isCancelled()) {
        delays.add(Duration.ofNanos(task.deadline - nanos.get()));
      }
    }
    return delays;
  }

  private synchronized <V> Task<V> enqueue(Callable<V> callable, long delayNanos, long period) {
    Task<V> task = new Task<>(callable, nanos.get() + Math.max(0, delayNanos), period, sequence++);
    queue.add(task);
    return task;
  }

  private final class Task<V> implements ScheduledFuture<V>, Runnable {
    private final Callable<V> callable;
    private final long period; // > 0: fixed rate, < 0: fixed delay, 0: once
    private final long order;
    private long deadline;
    private volatile boolean cancelled;
    private volatile boolean done;
    private V result;
    private Throwable failure;

    Task(Callable<V> callable, long deadline, long period, long order) {
      this.callable = callable;
      this.deadline = deadline;
      this.period = period;
      this.order = order;
    }

    @Override
    public void run() {
      if (cancelled) {
        return;
      }
      try {
        result = callable.call();
      } catch (Throwable t) {
        failure = t;
        done = true;
        return;
      }
      if (period == 0) {
        done = true;
        return;
      }
      synchronized (FakeClock.this) {
        deadline = period > 0 ? deadline + period : nanos.get() - period;
        queue.add(this);
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(deadline - nanos.get(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed other) {
      Task<?> that = (Task<?>) other;
      int byDeadline = Long.compare(deadline, that.deadline);
      return byDeadline != 0 ? byDeadline : Long.compare(order, that.order);
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      if (done) {
        return false;
      }
      cancelled = true;
      synchronized (FakeClock.this) {
        queue.remove(this);
      }
      return true;
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return done || cancelled;
    }

    @Override
    public V get() throws ExecutionException {
      if (!done) {
        throw new IllegalStateException("a FakeClock task runs only when time is forwarded");
      }
      if (failure != null) {
        throw new ExecutionException(failure);
      }
      return result;
    }

    @Override
    public V get(long timeout, TimeUnit unit) throws ExecutionException {
      return get();
    }
  }

  private final class Scheduler extends AbstractExecutorService
      implements ScheduledExecutorService {
    private volatile boolean shutdown;

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
      return enqueue(
          () -> {
            command.run();
            return null;
          },
          unit.toNanos(delay),
          0);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
      return enqueue(callable, unit.toNanos(delay), 0);
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(
        Runnable command, long initialDelay, long period, TimeUnit unit) {
      return enqueue(
          () -> {
            command.run();
            return null;
          },
          unit.toNanos(initialDelay),
          unit.toNanos(period));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(
        Runnable command, long initialDelay, long delay, TimeUnit unit) {
      return enqueue(
          () -> {
            command.run();
            return null;
          },
          unit.toNanos(initialDelay),
          -unit.toNanos(delay));
    }

    @Override
    public void execute(Runnable command) {
      schedule(command, 0, TimeUnit.NANOSECONDS);
    }

    @Override
    public void shutdown() {
      shutdown = true;
    }

    @Override
    public List<Runnable> shutdownNow() {
      shutdown = true;
      return List.of();
    }

    @Override
    public boolean isShutdown() {
      return shutdown;
    }

    @Override
    public boolean isTerminated() {
      return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return shutdown;
    }
  }
}
