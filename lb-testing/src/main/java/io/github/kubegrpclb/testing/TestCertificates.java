package io.github.kubegrpclb.testing;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority made at test time, and server certificates it signs for the DNS names a
 * test chooses, as cert-manager issues them for a Service ({@code my-svc.my-ns.svc}, {@code
 * my-svc.my-ns.svc.cluster.local}, ...). Clients built with {@link #clientCredentials()} trust this
 * CA only and verify host names. EC P-256 keys (fast to make), BouncyCastle to sign.
 *
 * <p>Immutable after creation; thread-safe.
 */
public final class TestCertificates {
  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  private final KeyPair caKeys;
  private final X509Certificate ca;

  private TestCertificates(KeyPair caKeys, X509Certificate ca) {
    this.caKeys = caKeys;
    this.ca = ca;
  }

  /** Makes a new CA, valid from an hour ago for a day. */
  public static TestCertificates newAuthority() {
    KeyPair keys = newKeys();
    X500Name name = new X500Name("CN=kube-grpc-lb test CA");
    try {
      X509v3CertificateBuilder builder = builder(name, name, keys);
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      builder.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      return new TestCertificates(keys, sign(builder, keys.getPrivate()));
    } catch (CertIOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The CA certificate, PEM. */
  public String caPem() {
    return pem("CERTIFICATE", encoded(ca));
  }

  /** Credentials that trust this CA only; grpc-java verifies the channel authority's host name. */
  public ChannelCredentials clientCredentials() {
    try {
      return TlsChannelCredentials.newBuilder()
          .trustManager(new ByteArrayInputStream(caPem().getBytes(StandardCharsets.US_ASCII)))
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Server credentials with a new key and a certificate signed by this CA whose subject alternative
   * names are exactly {@code dnsNames}.
   */
  public ServerCredentials serverCredentials(List<String> dnsNames) {
    if (dnsNames.isEmpty()) {
      throw new IllegalArgumentException("dnsNames: [] (expected: at least one DNS name)");
    }
    KeyPair keys = newKeys();
    try {
      X509v3CertificateBuilder builder =
          builder(
              new X500Name("CN=kube-grpc-lb test CA"), new X500Name("CN=" + dnsNames.get(0)), keys);
      GeneralName[] names =
          dnsNames.stream()
              .map(name -> new GeneralName(GeneralName.dNSName, name))
              .toArray(GeneralName[]::new);
      builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
      builder.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      X509Certificate certificate = sign(builder, caKeys.getPrivate());
      String chain = pem("CERTIFICATE", encoded(certificate)) + caPem();
      String key = pem("PRIVATE KEY", keys.getPrivate().getEncoded()); // PKCS#8
      return TlsServerCredentials.create(
          new ByteArrayInputStream(chain.getBytes(StandardCharsets.US_ASCII)),
          new ByteArrayInputStream(key.getBytes(StandardCharsets.US_ASCII)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(
        issuer,
        BigInteger.valueOf(SERIAL.incrementAndGet()),
        Date.from(now.minus(Duration.ofHours(1))),
        Date.from(now.plus(Duration.ofDays(1))),
        subject,
        keys.getPublic());
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key) {
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
    } catch (OperatorCreationException | GeneralSecurityException e) {
      throw new IllegalStateException("signing a test certificate failed", e);
    }
  }

  private static KeyPair newKeys() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 keys are not available", e);
    }
  }

  private static byte[] encoded(X509Certificate certificate) {
    try {
      return certificate.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }
}
