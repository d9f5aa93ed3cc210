package io.github.kubegrpclb.examples.spring;

import io.github.kubegrpclb.testing.PodService;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.grpc.client.GrpcChannelFactory;

/**
 * A Spring gRPC client. The library is switched on by configuration alone: the channel's address in
 * {@code application.properties} is a {@code kubernetes:///} (or {@code headless:///}) target, and
 * the resolver and balancer register themselves from the classpath. No code here knows about
 * kube-grpc-lb.
 */
@SpringBootApplication
public class SpringClientApplication {

  public static void main(String[] args) {
    SpringApplication.run(SpringClientApplication.class, args);
  }

  /** Calls the "greeter" channel {@code calls} times and counts the answering pods. */
  public static Map<String, Integer> callGreeter(GrpcChannelFactory channels, int calls) {
    ManagedChannel channel = channels.createChannel("greeter");
    Map<String, Integer> perPod = new TreeMap<>();
    for (int i = 0; i < calls; i++) {
      CallOptions options =
          CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(30, TimeUnit.SECONDS);
      perPod.merge(PodService.whoami(channel, options), 1, Integer::sum);
    }
    return perPod;
  }
}
