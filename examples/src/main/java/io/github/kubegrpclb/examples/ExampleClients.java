package io.github.kubegrpclb.examples;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.github.kubegrpclb.endpointslice.EndpointSliceOptions;
import io.github.kubegrpclb.examples.greeter.GreeterGrpc;
import io.github.kubegrpclb.examples.greeter.HelloRequest;
import io.github.kubegrpclb.sharding.PodIdentityServerInterceptor;
import io.github.kubegrpclb.sharding.ShardedChannel;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * One client per target scheme, as a user writes them: only the target (or, for a ClusterIP, the
 * channel type) changes. Each makes {@code calls} RPCs and returns how many each pod served.
 *
 * <pre>
 * java -cp ... io.github.kubegrpclb.examples.ExampleClients kubernetes:///greeter-headless.demo:grpc
 * java -cp ... io.github.kubegrpclb.examples.ExampleClients headless:///greeter-headless.demo.svc.cluster.local:grpc
 * java -cp ... io.github.kubegrpclb.examples.ExampleClients sharded://greeter.demo.svc.cluster.local:50051
 * </pre>
 */
public final class ExampleClients {
  private ExampleClients() {}

  public static void main(String[] args) throws InterruptedException {
    String target = args.length > 0 ? args[0] : System.getenv("GREETER_TARGET");
    int calls = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
    Map<String, Integer> perPod =
        target.startsWith("sharded://")
            ? sharded(target.substring("sharded://".length()), calls)
            : byTarget(target, calls);
    System.out.println(target + ": RPCs per pod " + perPod);
  }

  /** {@code kubernetes:///...} or {@code headless:///...}: the target is all that changes. */
  static Map<String, Integer> byTarget(String target, int calls) throws InterruptedException {
    return runAndClose(ManagedChannelBuilder.forTarget(target).usePlaintext().build(), calls);
  }

  /** The EndpointSlice resolver with a KubernetesClient of your own (tests, custom config). */
  static Map<String, Integer> endpointSlices(String target, KubernetesClient client, int calls)
      throws InterruptedException {
    return runAndClose(
        ManagedChannelBuilder.forTarget(target)
            .usePlaintext()
            .setNameResolverArg(
                EndpointSliceOptions.KEY, EndpointSliceOptions.builder().client(client).build())
            .build(),
        calls);
  }

  /** A ClusterIP Service: 8 connections, recycled, spread over distinct pods. */
  static Map<String, Integer> sharded(String clusterIpTarget, int calls)
      throws InterruptedException {
    return runAndClose(
        ShardedChannel.newBuilder(clusterIpTarget)
            .connections(8)
            .podIdentityHeader(PodIdentityServerInterceptor.DEFAULT_HEADER)
            .build(),
        calls);
  }

  private static Map<String, Integer> runAndClose(ManagedChannel channel, int calls)
      throws InterruptedException {
    try {
      return run(channel, calls);
    } finally {
      channel.shutdown();
      channel.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static Map<String, Integer> run(Channel channel, int calls) {
    Map<String, Integer> perPod = new TreeMap<>();
    GreeterGrpc.GreeterBlockingStub greeter = GreeterGrpc.newBlockingStub(channel);
    HelloRequest request = HelloRequest.newBuilder().setName("example").build();
    for (int i = 0; i < calls; i++) {
      String pod =
          greeter
              .withWaitForReady()
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .sayHello(request)
              .getPod();
      perPod.merge(pod, 1, Integer::sum);
    }
    return perPod;
  }
}
