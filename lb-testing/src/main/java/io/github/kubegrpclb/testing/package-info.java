/**
 * Shared test fixtures: {@link io.github.kubegrpclb.testing.LoopbackPods} (real gRPC servers on
 * distinct loopback addresses), {@link io.github.kubegrpclb.testing.FakeClock} and {@link
 * io.github.kubegrpclb.testing.FakeHelper}. Test scope only; never a runtime dependency.
 */
package io.github.kubegrpclb.testing;
