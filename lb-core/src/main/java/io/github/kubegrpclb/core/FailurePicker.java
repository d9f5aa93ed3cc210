package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.SubchannelPicker;
import io.grpc.Status;
import java.util.Objects;
import javax.annotation.Nullable;

/** Fails RPCs (wait-for-ready RPCs keep waiting) with the status that explains why. */
final class FailurePicker extends SubchannelPicker {
  private final PickResult result;

  FailurePicker(Status status) {
    this.result = PickResult.withError(status);
  }

  /** The resolver returned no endpoints for {@code authority}; {@code note} says why, or null. */
  static FailurePicker noEndpoints(String policyName, String authority, @Nullable String note) {
    return new FailurePicker(
        Status.UNAVAILABLE.withDescription(
            policyName
                + ": the name resolver returned no endpoints for "
                + authority
                + (note == null ? " (no ready pod?)" : ": " + note)));
  }

  /** Name resolution failed before any endpoint served. */
  static FailurePicker resolutionFailed(String policyName, String authority, Status error) {
    return new FailurePicker(
        Status.UNAVAILABLE
            .withDescription(
                policyName
                    + ": name resolution failed for "
                    + authority
                    + ": "
                    + error.getCode()
                    + ": "
                    + error.getDescription())
            .withCause(error.getCause()));
  }

  /**
   * Every endpoint failed to connect; names the last failure, of {@code lastFailed}, and the
   * resolver's note on the endpoint set (null when none).
   */
  static FailurePicker allFailed(
      String policyName,
      String authority,
      int failed,
      int endpoints,
      Endpoint<?> lastFailed,
      @Nullable String resolutionNote) {
    Status last = lastFailed.lastFailure();
    return new FailurePicker(
        Status.UNAVAILABLE
            .withDescription(
                policyName
                    + ": all "
                    + failed
                    + " of "
                    + endpoints
                    + " endpoints of "
                    + authority
                    + " failed to connect; last error from "
                    + lastFailed.group().getAddresses()
                    + ": "
                    + last.getCode()
                    + ": "
                    + last.getDescription()
                    + (resolutionNote == null ? "" : "; " + resolutionNote))
            .withCause(last.getCause()));
  }

  /** The status every pick fails with. */
  Status status() {
    return result.getStatus();
  }

  @Override
  public PickResult pickSubchannel(PickSubchannelArgs args) {
    return result;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof FailurePicker that
        && that.result.getStatus().getCode() == result.getStatus().getCode()
        && Objects.equals(
            that.result.getStatus().getDescription(), result.getStatus().getDescription());
  }

  @Override
  public int hashCode() {
    return Objects.hash(result.getStatus().getCode(), result.getStatus().getDescription());
  }

  @Override
  public String toString() {
    return "FailurePicker(" + result.getStatus() + ")";
  }
}
