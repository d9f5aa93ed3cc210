/** Placeholder for the lb-dns-resolver module; see the module's issue for what lands here. */
package io.github.kubegrpclb.dns;
