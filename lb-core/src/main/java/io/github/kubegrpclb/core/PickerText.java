package io.github.kubegrpclb.core;

import java.util.List;

/**
 * Describes a picker's endpoints for its {@code toString()}: their count and the first few
 * addresses, so that logging a picker over 10,000 endpoints stays cheap. Reads only the endpoints'
 * addresses (volatile, never changed for an endpoint): safe from any thread, so a picker renders it
 * when asked rather than on every rebuild.
 */
final class PickerText {
  static final int SHOWN = 8;

  private PickerText() {}

  static String endpoints(List<? extends Endpoint<?>> endpoints) {
    StringBuilder out = new StringBuilder().append(endpoints.size()).append(" endpoints [");
    int shown = Math.min(SHOWN, endpoints.size());
    for (int i = 0; i < shown; i++) {
      out.append(i > 0 ? ", " : "").append(BalancerPublisher.addressOf(endpoints.get(i)));
    }
    if (endpoints.size() > shown) {
      out.append(", ... ").append(endpoints.size() - shown).append(" more");
    }
    return out.append(']').toString();
  }
}
