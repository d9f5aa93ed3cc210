package io.github.kubegrpclb.core;

import static io.github.kubegrpclb.core.internal.Checks.positive;

import io.github.kubegrpclb.core.internal.PolicySelection;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Options of the {@code peak_ewma} policy. Parsed from the policy's service-config JSON, or built
 * in code and turned into a service config for {@code ManagedChannelBuilder.defaultServiceConfig}.
 * This library's resolvers return a service config of their own, which grpc-java prefers to the
 * channel's: so with a {@code kubernetes:///} or {@code headless:///} target, add {@code
 * ?policy=channel} for the channel's to apply:
 *
 * <pre>{@code
 * ManagedChannel channel =
 *     ManagedChannelBuilder.forTarget("kubernetes:///my-svc.my-ns:grpc?policy=channel")
 *         .defaultServiceConfig(
 *             PeakEwmaConfig.builder().decay(Duration.ofSeconds(5)).build().toServiceConfig())
 *         .usePlaintext()
 *         .build();
 * }</pre>
 *
 * <p>Or keep the resolver's service config and give it the options as JSON: {@code
 * EndpointSliceOptions.builder().policy("peak_ewma", Map.of("decay", "5s"))} (likewise {@code
 * HeadlessDnsOptions}).
 *
 * <table>
 *   <caption>Fields</caption>
 *   <tr><th>JSON field</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code decay}</td><td>"10s"</td><td>time constant of the exponential decay</td></tr>
 *   <tr><td>{@code defaultRtt}</td><td>"0.030s"</td><td>estimate of an endpoint whose first
 *       RPCs are still in flight (an idle endpoint with no sample is probed first)</td></tr>
 *   <tr><td>{@code failurePenalty}</td><td>"1s"</td><td>latency sample recorded for an RPC that
 *       failed with one of {@code failureStatusCodes}</td></tr>
 *   <tr><td>{@code failureStatusCodes}</td><td>UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS,
 *       RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, UNIMPLEMENTED</td><td>codes that count as
 *       failures</td></tr>
 *   <tr><td>{@code choiceCount}</td><td>2</td><td>endpoints compared per pick (2..10)</td></tr>
 *   <tr><td>{@code outlierEjection}</td><td>on</td><td>an object, see docs/policies.md (JSON
 *       only)</td></tr>
 *   <tr><td>{@code subsetting}</td><td>off</td><td>{@code {"subsetSize": 30}}: connect to about
 *       30 endpoints, chosen by deterministic subsetting (JSON only; docs/operating.md)</td></tr>
 *   <tr><td>{@code slowStart}</td><td>on</td><td>an object, see docs/policies.md (JSON
 *       only)</td></tr>
 *   <tr><td>{@code zoneSpill}</td><td>on</td><td>an object: load-aware spill past topology
 *       hints, see docs/policies.md (JSON only)</td></tr>
 *   <tr><td>{@code streamRebalancing}</td><td>off</td><td>an object: place, rebalance and drain
 *       long-lived streams, see docs/streams.md (JSON only)</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe.
 */
public final class PeakEwmaConfig {
  static final String POLICY_NAME = PolicySelection.PEAK_EWMA;
  private static final Set<String> FIELDS =
      Stream.concat(
              Stream.of(
                  "decay", "defaultRtt", "failurePenalty", "failureStatusCodes", "choiceCount"),
              BalancerConfig.FIELDS.stream())
          .collect(Collectors.toUnmodifiableSet());
  static final EnumSet<Status.Code> DEFAULT_FAILURE_CODES =
      EnumSet.of(
          Status.Code.UNAVAILABLE,
          Status.Code.INTERNAL,
          Status.Code.UNKNOWN,
          Status.Code.DATA_LOSS,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.UNIMPLEMENTED);
  private static final PeakEwmaConfig DEFAULTS = builder().build();

  private final long decayNanos;
  private final long defaultRttNanos;
  private final long failurePenaltyNanos;
  private final int choiceCount;
  private final EnumSet<Status.Code> failureCodes;
  private final BalancerConfig balancer;

  private PeakEwmaConfig(Builder builder) {
    this.decayNanos = builder.decay.toNanos();
    this.defaultRttNanos = builder.defaultRtt.toNanos();
    this.failurePenaltyNanos = builder.failurePenalty.toNanos();
    this.choiceCount = builder.choiceCount;
    this.failureCodes = EnumSet.copyOf(builder.failureCodes);
    this.balancer = builder.balancer;
  }

  /** Returns a builder with every option at its default. */
  public static Builder builder() {
    return new Builder();
  }

  static PeakEwmaConfig defaults() {
    return DEFAULTS;
  }

  /**
   * Parses the JSON object under {@code "peak_ewma"}.
   *
   * @throws IllegalArgumentException naming the bad field, its value and what was expected
   */
  static PeakEwmaConfig parse(Map<String, ?> raw) {
    PolicyConfigFields.checkKnownFields(POLICY_NAME, raw, FIELDS);
    Builder b = builder();
    b.decay =
        Duration.ofNanos(
            PolicyConfigFields.positiveDurationNanos(POLICY_NAME, raw, "decay", b.decay.toNanos()));
    b.defaultRtt =
        Duration.ofNanos(
            PolicyConfigFields.positiveDurationNanos(
                POLICY_NAME, raw, "defaultRtt", b.defaultRtt.toNanos()));
    b.failurePenalty =
        Duration.ofNanos(
            PolicyConfigFields.positiveDurationNanos(
                POLICY_NAME, raw, "failurePenalty", b.failurePenalty.toNanos()));
    b.choiceCount = PolicyConfigFields.intInRange(POLICY_NAME, raw, "choiceCount", 2, 2, 10);
    b.failureCodes =
        PolicyConfigFields.statusCodes(
            POLICY_NAME, raw, "failureStatusCodes", DEFAULT_FAILURE_CODES);
    b.balancer = BalancerConfig.parse(POLICY_NAME, raw);
    return b.build();
  }

  long decayNanos() {
    return decayNanos;
  }

  long defaultRttNanos() {
    return defaultRttNanos;
  }

  long failurePenaltyNanos() {
    return failurePenaltyNanos;
  }

  int choiceCount() {
    return choiceCount;
  }

  boolean isFailure(Status.Code code) {
    return failureCodes.contains(code);
  }

  /** The sections both policies share. */
  BalancerConfig balancer() {
    return balancer;
  }

  /** Returns a service config, {@code {"loadBalancingConfig":[{"peak_ewma":{...}}]}}. */
  public Map<String, ?> toServiceConfig() {
    Map<String, Object> options = new LinkedHashMap<>();
    options.put("decay", PolicyConfigFields.seconds(decayNanos));
    options.put("defaultRtt", PolicyConfigFields.seconds(defaultRttNanos));
    options.put("failurePenalty", PolicyConfigFields.seconds(failurePenaltyNanos));
    List<String> codes = new ArrayList<>();
    failureCodes.forEach(code -> codes.add(code.name()));
    options.put("failureStatusCodes", codes);
    options.put("choiceCount", (double) choiceCount);
    balancer.putJson(options);
    return Map.of("loadBalancingConfig", List.of(Map.of(POLICY_NAME, options)));
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof PeakEwmaConfig that)) {
      return false;
    }
    return decayNanos == that.decayNanos
        && defaultRttNanos == that.defaultRttNanos
        && failurePenaltyNanos == that.failurePenaltyNanos
        && choiceCount == that.choiceCount
        && failureCodes.equals(that.failureCodes)
        && balancer.equals(that.balancer);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(decayNanos * 31 + defaultRttNanos)
        ^ Long.hashCode(failurePenaltyNanos)
        ^ choiceCount
        ^ failureCodes.hashCode()
        ^ balancer.hashCode();
  }

  @Override
  public String toString() {
    return POLICY_NAME + toServiceConfig().get("loadBalancingConfig");
  }

  /** Builds a {@link PeakEwmaConfig}; not thread-safe. */
  public static final class Builder {
    private Duration decay = Duration.ofSeconds(10);
    private Duration defaultRtt = Duration.ofMillis(30);
    private Duration failurePenalty = Duration.ofSeconds(1);
    private int choiceCount = 2;
    private EnumSet<Status.Code> failureCodes = DEFAULT_FAILURE_CODES;
    private BalancerConfig balancer = BalancerConfig.DEFAULTS;

    private Builder() {}

    /** Time constant of the decay toward lower latency samples (Linkerd and Finagle: 10 s). */
    public Builder decay(Duration decay) {
      this.decay = positive("decay", decay);
      return this;
    }

    /**
     * Latency estimate of an endpoint while its first RPCs are in flight (Linkerd: 30 ms). An
     * endpoint with no sample and nothing in flight costs zero, so a new pod is probed at once.
     */
    public Builder defaultRtt(Duration defaultRtt) {
      this.defaultRtt = positive("defaultRtt", defaultRtt);
      return this;
    }

    /**
     * Latency sample recorded at least for an RPC that failed with one of the {@linkplain
     * #failureStatusCodes failure codes}, so a fast-failing pod does not attract traffic.
     */
    public Builder failurePenalty(Duration failurePenalty) {
      this.failurePenalty = positive("failurePenalty", failurePenalty);
      return this;
    }

    /**
     * Status codes that count as failures: UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS,
     * RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED and UNIMPLEMENTED by default. Other codes are the
     * application's answers and count at their real latency.
     */
    public Builder failureStatusCodes(Set<Status.Code> codes) {
      if (codes == null || codes.contains(Status.Code.OK)) {
        throw new IllegalArgumentException(
            "failureStatusCodes: " + codes + " (expected: a set of codes other than OK)");
      }
      this.failureCodes =
          codes.isEmpty() ? EnumSet.noneOf(Status.Code.class) : EnumSet.copyOf(codes);
      return this;
    }

    /** Endpoints compared per pick, 2 to 10 (power of two choices: 2). */
    public Builder choiceCount(int choiceCount) {
      if (choiceCount < 2 || choiceCount > 10) {
        throw new IllegalArgumentException(
            "choiceCount: " + choiceCount + " (expected: an integer in [2, 10])");
      }
      this.choiceCount = choiceCount;
      return this;
    }

    public PeakEwmaConfig build() {
      return new PeakEwmaConfig(this);
    }
  }
}
