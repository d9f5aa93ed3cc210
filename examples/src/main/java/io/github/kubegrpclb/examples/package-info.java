/**
 * The examples: {@code LocalDemo} (four loopback pods, one channel per scenario, the ClusterIP
 * hotspot and its fixes) first; then {@code ExampleServer} (the Greeter server as a pod runs it),
 * {@code ExampleClients} (one client per target scheme) and {@code OpenTelemetryClient} (the same
 * with metrics). The Kubernetes manifests are in {@code examples/k8s}.
 */
package io.github.kubegrpclb.examples;
