/** Internal to kube-grpc-lb: shared by its modules, not an API. May change in any release. */
package io.github.kubegrpclb.core.internal;
