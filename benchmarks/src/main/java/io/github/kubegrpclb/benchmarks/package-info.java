/** JMH and scenario benchmarks; see the README section on benchmarks. */
package io.github.kubegrpclb.benchmarks;
