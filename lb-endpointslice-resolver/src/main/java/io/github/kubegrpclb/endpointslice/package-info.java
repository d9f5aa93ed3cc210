/**
 * Placeholder for the lb-endpointslice-resolver module; see the module's issue for what lands here.
 */
package io.github.kubegrpclb.endpointslice;
