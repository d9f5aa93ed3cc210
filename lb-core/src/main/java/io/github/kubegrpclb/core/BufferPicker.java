package io.github.kubegrpclb.core;

import io.grpc.LoadBalancer.PickResult;
import io.grpc.LoadBalancer.PickSubchannelArgs;
import io.grpc.LoadBalancer.SubchannelPicker;

/** Holds RPCs while endpoints connect; a new picker is certain to follow. */
final class BufferPicker extends SubchannelPicker {
  static final BufferPicker INSTANCE = new BufferPicker();

  @Override
  public PickResult pickSubchannel(PickSubchannelArgs args) {
    return PickResult.withNoResult();
  }

  @Override
  public String toString() {
    return "BufferPicker";
  }
}
