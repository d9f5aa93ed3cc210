package io.github.kubegrpclb.examples;

import io.github.kubegrpclb.examples.greeter.GreeterGrpc;
import io.github.kubegrpclb.examples.greeter.HelloReply;
import io.github.kubegrpclb.examples.greeter.HelloRequest;
import io.github.kubegrpclb.sharding.PodIdentityServerInterceptor;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The server side of the examples, as it would run in a pod: answers {@code Greeter.SayHello} (the
 * stub generated from {@code src/main/proto/greeter.proto}) with its pod name ({@code POD_NAME},
 * from the downward API, else {@code HOSTNAME}), puts that name in a response header with the
 * library's {@code PodIdentityServerInterceptor} (what {@code ShardedChannel.podIdentityHeader}
 * reads), serves the health service for the readiness probe, and shuts down gracefully on SIGTERM:
 * GOAWAY, then in-flight RPCs get up to 25 s to finish.
 *
 * <p>Run: {@code java -cp ... io.github.kubegrpclb.examples.ExampleServer 50051}.
 */
public final class ExampleServer {
  private ExampleServer() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 50051;
    Server server = start(port, podName());
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.shutdown();
                  try {
                    server.awaitTermination(25, TimeUnit.SECONDS);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                }));
    System.out.println("serving on port " + server.getPort() + " as " + podName());
    server.awaitTermination();
  }

  /** Starts the server on {@code port} (0: any free port) answering as {@code podName}. */
  static Server start(int port, String podName) throws IOException {
    return serve(Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create()), podName)
        .start();
  }

  /** Starts the server on one address (tests: 127.0.0.11, .12 ... on one port). */
  static Server start(InetSocketAddress address, String podName) throws IOException {
    return serve(NettyServerBuilder.forAddress(address), podName).start();
  }

  private static Server serve(io.grpc.ServerBuilder<?> builder, String podName) {
    HealthStatusManager health = new HealthStatusManager();
    return builder
        .addService(
            ServerInterceptors.intercept(
                new Greeter(podName),
                PodIdentityServerInterceptor.of(
                    PodIdentityServerInterceptor.DEFAULT_HEADER, podName)))
        .addService(health.getHealthService())
        .build();
  }

  /** {@code Greeter}: says hello and names the pod. */
  private static final class Greeter extends GreeterGrpc.GreeterImplBase {
    private final String podName;

    Greeter(String podName) {
      this.podName = podName;
    }

    @Override
    public void sayHello(HelloRequest request, StreamObserver<HelloReply> response) {
      response.onNext(
          HelloReply.newBuilder()
              .setMessage("Hello, " + request.getName())
              .setPod(podName)
              .build());
      response.onCompleted();
    }
  }

  private static String podName() {
    String name = System.getenv("POD_NAME");
    if (name == null || name.isBlank()) {
      name = System.getenv().getOrDefault("HOSTNAME", "local");
    }
    return name;
  }
}
