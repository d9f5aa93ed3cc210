/**
 * Shared test fixtures, test scope only (never a runtime dependency); the fleet-event harness is in
 * {@code io.github.kubegrpclb.testing.fleet}. A map, by what a test needs:
 *
 * <ol>
 *   <li>Pods: {@link io.github.kubegrpclb.testing.LoopbackPods} of {@link
 *       io.github.kubegrpclb.testing.LoopbackPod} (real gRPC servers on 127.0.0.11, .12, ...
 *       serving {@code PodService}), {@code LoopbackFleet} (hundreds of addresses, one server),
 *       {@code MaxAgePods}, {@code TlsPods} with {@code TestCertificates}.
 *   <li>Load and what it saw: {@code RpcLoad}, {@code ReopeningStreams}, {@code ResponseCallbacks},
 *       {@code ChannelReadiness}; {@code ServiceConfigs} for the policy and retries.
 *   <li>Discovery: {@code ManualNameResolverProvider} with {@code PrivateResolverChannels}, {@code
 *       TestDnsServer} (in-JVM DNS over UDP/TCP; its records and answers in {@code DnsZone}),
 *       {@code BindDnsServer} (real BIND 9), {@code MockKubernetesApi} (fabric8's CRUD mock);
 *       {@code RecordingListener} for resolver tests.
 *   <li>Balancer unit tests: {@link io.github.kubegrpclb.testing.FakeHelper}, {@link
 *       io.github.kubegrpclb.testing.FakeClock}, {@code PickArgs}, {@code EndpointGroups}, {@code
 *       RecordingPolicy}, {@code ReadyCountingPolicy}.
 *   <li>The network: {@code KubeProxyRules} (iptables in a network namespace), {@code PacketDrop};
 *       {@code TestEnvironment} skips where a program is missing, except in CI.
 *   <li>Checks and clean-up: {@code Cleanup}, {@code LogRecords}, {@code RecordingChannelLogger},
 *       {@code NoopChannelLogger}, {@code TestMetrics}, {@code PublicApi} (the API dumps).
 * </ol>
 */
package io.github.kubegrpclb.testing;
