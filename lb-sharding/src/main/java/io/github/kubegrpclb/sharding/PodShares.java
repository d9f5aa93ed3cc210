package io.github.kubegrpclb.sharding;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import javax.annotation.Nullable;

/**
 * The per-pod share accounting of a {@link ShardPool}: how many slots each pod holds against its
 * fair share, and which shard to re-dial to even the spread out. It only answers; the caller
 * decides whether the re-dial budget allows the re-dial and tells it with {@link #redialed}.
 *
 * <p>Not thread-safe: confine to the pool's synchronization context.
 */
final class PodShares {
  private final int size;
  private int podsSeen; // the most distinct pods the slot shards have reported at once
  private int redialsSinceNewPod;

  /** Accounting for a pool of {@code size} shards. */
  PodShares(int size) {
    this.size = size;
  }

  /**
   * The shard to re-dial among {@code shards} (the slot shards, in slot order), or null when no pod
   * holds more than its fair share: {@code reporting} (the shard that just named its pod, or null)
   * when it is such a shard, else one on the fullest such pod. {@code replacing} says which slots
   * have a replacement under way; those shards count as leaving their pod.
   */
  @Nullable
  Shard overShare(List<Shard> shards, IntPredicate replacing, @Nullable Shard reporting) {
    Map<String, Integer> perPod = new HashMap<>();
    Map<String, Integer> leaving = new HashMap<>(); // shards of a pod already being re-dialed
    for (Shard shard : shards) {
      String identity = shard.identity();
      if (identity != null) {
        perPod.merge(identity, 1, Integer::sum);
        if (replacing.test(shard.slot)) {
          leaving.merge(identity, 1, Integer::sum);
        }
      }
    }
    int fair = fairShare(perPod.size());
    Shard victim = null;
    int mostExcess = 0;
    for (Shard shard : shards) {
      String identity = shard.identity();
      if (identity == null || replacing.test(shard.slot)) {
        continue;
      }
      int excess = perPod.getOrDefault(identity, 0) - fair - leaving.getOrDefault(identity, 0);
      if (excess > 0 && (shard == reporting ? excess >= mostExcess : excess > mostExcess)) {
        victim = shard;
        mostExcess = excess;
      }
    }
    return victim;
  }

  /** A shard {@link #overShare} named is being re-dialed. */
  void redialed() {
    redialsSinceNewPod++;
  }

  /*
   * The most slots a pod may hold: ceil(shards / pods) over the distinct pods the shards have
   * reported. Until `size` re-dials in a row found no new pod, it counts one pod more than it knows
   * of (one no shard has reached yet may exist: with 3 pods and 8 random connections, 3.9 % of the
   * time one pod has none), so re-dials also explore; after that it settles at an even spread
   * (3/3/2 for 8 shards on 3 pods) and stops re-dialing.
   */
  private int fairShare(int podsReported) {
    if (podsReported > podsSeen) {
      podsSeen = podsReported;
      redialsSinceNewPod = 0;
    }
    int pods = podsReported + (redialsSinceNewPod < size ? 1 : 0);
    return (size + pods - 1) / pods;
  }
}
