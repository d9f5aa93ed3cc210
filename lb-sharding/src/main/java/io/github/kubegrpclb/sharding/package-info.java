/** Placeholder for the lb-sharding module; see the module's issue for what lands here. */
package io.github.kubegrpclb.sharding;
