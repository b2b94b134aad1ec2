// A TLS server on Java's own TLS stack (JSSE) with OCSP stapling, for the native engine's
// differential tests: JSSE shares no code with OpenSSL or GnuTLS. Compiled by javac (jsse.ts), run as
//   java -Djdk.tls.server.enableStatusRequestExtension=true -cp CLASSES JsseServer \
//     PORT KEYSTORE.p12 PASSWORD PROTOCOLS SUITES CLIENT_AUTH
// PROTOCOLS and SUITES are comma-separated JSSE names ("-" keeps JSSE's defaults); CLIENT_AUTH is
// "want" or "none". JSSE fetches the staple itself from the leaf's AIA responder (RFC 6960) and
// caches it. Listens on 127.0.0.1 only; prints "listening", then one line per connection:
// "handshake <protocol> <suite>" or "error <exception>".
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

public class JsseServer {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    char[] password = args[2].toCharArray();
    KeyStore keyStore = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(args[1])) {
      keyStore.load(in, password);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
    kmf.init(keyStore, password);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), null, null);
    SSLServerSocket server = (SSLServerSocket) context.getServerSocketFactory()
        .createServerSocket(port, 50, InetAddress.getByName("127.0.0.1"));
    if (!args[3].equals("-")) server.setEnabledProtocols(args[3].split(","));
    if (!args[4].equals("-")) server.setEnabledCipherSuites(args[4].split(","));
    if (args[5].equals("want")) server.setWantClientAuth(true);
    System.out.println("listening");
    System.out.flush();
    while (true) {
      SSLSocket socket = (SSLSocket) server.accept();
      Thread thread = new Thread(() -> serve(socket));
      thread.setDaemon(true);
      thread.start();
    }
  }

  private static void serve(SSLSocket socket) {
    try (socket) {
      socket.setSoTimeout(10_000);
      socket.startHandshake();
      System.out.println("handshake " + socket.getSession().getProtocol() + " " + socket.getSession().getCipherSuite());
      // Read to the client's close_notify (read returns -1), as a server waiting for a request does.
      byte[] buffer = new byte[512];
      while (socket.getInputStream().read(buffer) >= 0) {
        // discard
      }
    } catch (Exception e) {
      System.out.println("error " + e);
    }
    System.out.flush();
  }
}
