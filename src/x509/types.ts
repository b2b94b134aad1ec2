/** The public shape of what the X.509 layer reports about a certificate. Plain data, cacheable. */

/** Facts about a certificate the exporter reports (computed once per certificate, cacheable). */
export interface CertificateFacts {
  /** RFC 4514 string. */
  subject: string;
  issuer: string;
  /** Hex, upper case, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, hex lower case. */
  fingerprintSha256: string;
  /** AIA id-ad-ocsp URIs, in order. */
  ocspUrls: string[];
  /** TLS Feature extension (RFC 7633) lists status_request (5). */
  mustStaple: boolean;
  /** Extended key usage OIDs, empty when the extension is absent. */
  extendedKeyUsage: string[];
  isCA: boolean;
}
