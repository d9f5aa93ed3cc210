package io.github.kubegrpclb.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A loopback TCP forwarder that counts what crosses it: bytes each way and HTTP/1.1 request lines
 * sent upstream, for measuring what a client costs an API server. Thread-safe; one thread per
 * direction per connection.
 */
final class CountingProxy implements AutoCloseable {
  private static final Pattern REQUEST_LINE =
      Pattern.compile("(GET|POST|PUT|PATCH|DELETE) (\\S+) HTTP/1\\.1\r\n");

  private final ServerSocket server;
  private final InetSocketAddress upstream;
  private final AtomicLong bytesUp = new AtomicLong();
  private final AtomicLong bytesDown = new AtomicLong();
  private final AtomicLong connections = new AtomicLong();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  CountingProxy(InetSocketAddress upstream) throws IOException {
    this.upstream = upstream;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptLoop, "counting-proxy");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  long bytesUp() {
    return bytesUp.get();
  }

  long bytesDown() {
    return bytesDown.get();
  }

  long connections() {
    return connections.get();
  }

  /** Request lines seen so far ("GET /apis/...?watch=true"). */
  List<String> requests() {
    return List.copyOf(requests);
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket target = new Socket(upstream.getAddress(), upstream.getPort());
        sockets.add(client);
        sockets.add(target);
        connections.incrementAndGet();
        pump(client, target, bytesUp, true);
        pump(target, client, bytesDown, false);
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void pump(Socket from, Socket to, AtomicLong counter, boolean parseRequests) {
    Thread thread =
        new Thread(
            () -> {
              byte[] buffer = new byte[16 * 1024];
              StringBuilder pending = new StringBuilder();
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                  counter.addAndGet(n);
                  if (parseRequests) {
                    pending.append(new String(buffer, 0, n, StandardCharsets.ISO_8859_1));
                    Matcher m = REQUEST_LINE.matcher(pending);
                    int end = 0;
                    while (m.find()) {
                      requests.add(m.group(1) + " " + m.group(2));
                      end = m.end();
                    }
                    pending.delete(0, Math.max(end, pending.length() - 4096));
                  }
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // connection closed by either side
              } finally {
                closeQuietly(from);
                closeQuietly(to);
              }
            },
            "counting-proxy-pump");
    thread.setDaemon(true);
    thread.start();
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    sockets.forEach(CountingProxy::closeQuietly);
  }
}
