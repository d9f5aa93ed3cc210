package io.github.kubegrpclb.endpointslice;

import io.grpc.NameResolverProvider;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code kubernetes:///} providers as they run in a given client pod (its name in {@code
 * KUBE_GRPC_LB_POD_NAME}), for benchmarks that run outside a pod. Lives in the resolver's package
 * to reach the package-private pod environment.
 */
public final class PodResolvers {
  private PodResolvers() {}

  /** The provider of a client pod named {@code podName}. */
  public static NameResolverProvider inPod(String podName) {
    Map<String, String> env = Map.of(EndpointSliceOptions.POD_NAME_ENV, podName);
    return new EndpointSliceNameResolverProvider(
        PodEnvironment.read(env::get, Path.of("/nonexistent")));
  }
}
