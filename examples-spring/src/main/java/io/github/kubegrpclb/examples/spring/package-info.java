/**
 * The Spring gRPC example: {@code SpringClientApplication} (a client switched on by properties, see
 * its {@code application.properties}) and {@code GreeterService} (the server side, as a pod serves
 * it).
 */
package io.github.kubegrpclb.examples.spring;
