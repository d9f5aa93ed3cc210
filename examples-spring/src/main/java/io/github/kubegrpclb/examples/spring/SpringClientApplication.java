package io.github.kubegrpclb.examples.spring;

import io.github.kubegrpclb.examples.spring.greeter.GreeterGrpc;
import io.github.kubegrpclb.examples.spring.greeter.HelloReply;
import io.github.kubegrpclb.examples.spring.greeter.HelloRequest;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.grpc.client.GrpcChannelFactory;

/**
 * A Spring gRPC client of the {@code Greeter} service (its stub generated from {@code
 * src/main/proto/greeter.proto}) that balances every RPC over the Service's pods. The library is
 * switched on by configuration: the channel's address in {@code application.properties} is a {@code
 * kubernetes:///} (or {@code headless:///}) target, and lb-spring-boot-autoconfigure hands it the
 * {@code kube-grpc-lb.channels.greeter.*} options and keeps the channel's retry policy ({@code
 * service-config}) next to the load-balancing policy. On start it says hello {@code greeter.calls}
 * times and prints which pods answered.
 */
@SpringBootApplication
public class SpringClientApplication {

  public static void main(String[] args) {
    SpringApplication.run(SpringClientApplication.class, args);
  }

  /** The stub on the "greeter" channel of {@code application.properties}. */
  @Bean
  GreeterGrpc.GreeterBlockingStub greeter(GrpcChannelFactory channels) {
    return GreeterGrpc.newBlockingStub(channels.createChannel("greeter"));
  }

  /** Says hello {@code greeter.calls} times on start and prints the answering pods. */
  @Bean
  ApplicationRunner sayHello(
      GreeterGrpc.GreeterBlockingStub greeter, @Value("${greeter.calls:10}") int calls) {
    return args -> System.out.println("answers per pod: " + callGreeter(greeter, calls));
  }

  /**
   * Says hello {@code calls} times, each RPC fail-fast with a 5 s deadline, and counts the answers
   * per pod ({@code "failed <code>"} counts failed RPCs).
   */
  public static Map<String, Integer> callGreeter(
      GreeterGrpc.GreeterBlockingStub greeter, int calls) {
    Map<String, Integer> perPod = new TreeMap<>();
    for (int i = 0; i < calls; i++) {
      try {
        HelloReply reply =
            greeter
                .withDeadlineAfter(5, TimeUnit.SECONDS)
                .sayHello(HelloRequest.newBuilder().setName("spring").build());
        perPod.merge(reply.getPod(), 1, Integer::sum);
      } catch (StatusRuntimeException e) {
        perPod.merge("failed " + e.getStatus().getCode(), 1, Integer::sum);
        System.err.println("RPC failed: " + e.getStatus());
      }
    }
    return perPod;
  }
}
