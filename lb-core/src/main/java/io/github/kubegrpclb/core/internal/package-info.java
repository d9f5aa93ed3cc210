/**
 * Internal to kube-grpc-lb: shared by its modules, not an API. May change in any release. A map, in
 * reading order:
 *
 * <ol>
 *   <li>Targets and policies, for both resolvers: {@code TargetUri} and {@code PortSpec} (what a
 *       target holds), {@code TargetScheme} (one scheme's parse errors), {@code PolicySelection}
 *       (which policy a resolution asks for), {@code UserServiceConfig} (the application's own
 *       service config), {@code PolicyCheck} (a warning when another policy gets the addresses),
 *       {@code GrpcJavaVersion} (the supported range), {@code Checks} (option arguments).
 *   <li>Metrics: {@code Telemetry} makes the recorders {@code BalancerTelemetry}, {@code
 *       EndpointTelemetry}, {@code ResolverTelemetry} and {@code ShardTelemetry}; without
 *       OpenTelemetry ({@code OpenTelemetryPresence}) they are no-ops, with it {@code
 *       OtelTelemetry} builds them: {@code OtelInstruments} (names and instruments), {@code
 *       OtelBalancerTelemetry}, {@code OtelEndpointTelemetry}, {@code OtelResolverTelemetry},
 *       {@code OtelShardTelemetry}, and {@code ExportedEndpoints} (the endpoint-series limit).
 *   <li>What a component shows: {@code EndpointStatus} and {@code ZoneSpillStatus} (a balancer's
 *       rows), {@code ResolverObserver} (a resolver's metrics and snapshot), {@code Snapshots} (the
 *       live components {@code LbDebug} prints).
 * </ol>
 */
package io.github.kubegrpclb.core.internal;
