package io.github.kubegrpclb.core.internal;

import io.grpc.Attributes;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Notices, once per resolver, that the channel handed the resolver's addresses to a policy other
 * than this library's, and says how to fix it at WARNING. The resolver sets it on each resolution
 * result; this library's balancers {@link #received mark} it when the result reaches them, which
 * grpc-java does within the resolver's {@code onResult2} call; the resolver then calls {@link
 * #published}. Two silent losses are seen this way: {@code ?policy=channel} with a channel service
 * config that names no policy (grpc-java then uses pick_first), and a channel that ignores resolver
 * service configs ({@code disableServiceConfigLookUp()}). Used in the channel's
 * SynchronizationContext only.
 */
public final class PolicyCheck {
  /** On each resolution result of this library's resolvers. */
  public static final Attributes.Key<PolicyCheck> ATTRIBUTE =
      Attributes.Key.create("io.github.kubegrpclb.internal.policyCheck");

  private static final Logger logger = Logger.getLogger(PolicyCheck.class.getName());

  private final String policy;
  private final String target;
  private final String optionsClass;
  private boolean received;
  private boolean checked;

  /**
   * @param policy the policy the resolver chose ({@link PolicySelection#choose})
   * @param target the channel target as written
   * @param optionsClass the resolver's options class, named in the fix
   */
  public PolicyCheck(String policy, String target, String optionsClass) {
    this.policy = policy;
    this.target = target;
    this.optionsClass = optionsClass;
  }

  /** Sets this check on a resolution result's attributes. */
  public Attributes.Builder addTo(Attributes.Builder attributes) {
    return attributes.set(ATTRIBUTE, this);
  }

  /** A balancer of this library received a resolution result with these attributes. */
  public static void received(Attributes resolutionAttributes) {
    PolicyCheck check = resolutionAttributes.get(ATTRIBUTE);
    if (check != null) {
      check.received = true;
    }
  }

  /**
   * The resolver's {@code onResult2} with addresses returned: the channel's policy has seen them.
   * Checks the first such result only, and logs at most once.
   *
   * @return whether it warned
   */
  public boolean published() {
    if (checked) {
      return false;
    }
    checked = true;
    if (received || !(isOurs(policy) || PolicySelection.CHANNEL.equals(policy))) {
      return false; // our policy got the addresses, or the user named another policy on purpose
    }
    if (logger.isLoggable(Level.WARNING)) {
      logger.warning(message());
    }
    return true;
  }

  String message() {
    if (PolicySelection.CHANNEL.equals(policy)) {
      return "kube-grpc-lb: channel '"
          + target
          + "' is not balanced by kube-grpc-lb: with policy=channel the channel's"
          + " defaultServiceConfig or defaultLoadBalancingPolicy chooses the policy, and it chose"
          + " another one (grpc-java's pick_first when it names none, e.g. a config with only"
          + " method configs or retries), so one pod may get every RPC. Fix: drop"
          + " ?policy=channel and pass your service config to the resolver with "
          + optionsClass
          + ".builder().serviceConfig(config): the resolver returns it with its policy; or add"
          + " \"loadBalancingConfig\": [{\"kube_round_robin\": {}}] to the defaultServiceConfig;"
          + " or, to use another policy on purpose, name it in the target (?policy=round_robin).";
    }
    return "kube-grpc-lb: channel '"
        + target
        + "' did not use the policy its resolver returned ("
        + policy
        + "): the channel ignores name-resolver service configs"
        + " (ManagedChannelBuilder.disableServiceConfigLookUp()), so its defaultServiceConfig"
        + " decides (pick_first when it names no policy). Fix: remove"
        + " disableServiceConfigLookUp() and pass your service config to the resolver with "
        + optionsClass
        + ".builder().serviceConfig(config); or name "
        + policy
        + " in the defaultServiceConfig's loadBalancingConfig.";
  }

  private static boolean isOurs(String policy) {
    return PolicySelection.KUBE_ROUND_ROBIN.equals(policy)
        || PolicySelection.PEAK_EWMA.equals(policy);
  }
}
