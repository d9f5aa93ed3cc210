package io.github.kubegrpclb.examples.spring;

import io.github.kubegrpclb.examples.spring.greeter.GreeterGrpc;
import io.github.kubegrpclb.examples.spring.greeter.HelloReply;
import io.github.kubegrpclb.examples.spring.greeter.HelloRequest;
import io.grpc.stub.StreamObserver;

/**
 * The server side of {@code Greeter}, as a pod would serve it (e.g. with Spring gRPC's server
 * starter, or {@code Grpc.newServerBuilderForPort}): answers with its pod name. Thread-safe.
 */
public final class GreeterService extends GreeterGrpc.GreeterImplBase {
  private final String pod;

  /** Answers as {@code pod} (in a cluster, the downward API's {@code metadata.name}). */
  public GreeterService(String pod) {
    this.pod = pod;
  }

  @Override
  public void sayHello(HelloRequest request, StreamObserver<HelloReply> response) {
    response.onNext(
        HelloReply.newBuilder().setMessage("Hello, " + request.getName()).setPod(pod).build());
    response.onCompleted();
  }
}
