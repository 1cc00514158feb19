// A coolingd webhook receiver, JDK only (docs/webhooks.md). Java 17:
//
//     java Receiver.java --port 9000 --secret-file webhook.secret
//
// Refuses (401) a delivery whose Coolingd-Signature does not verify or whose
// t is more than 5 minutes from this clock, acknowledges (204) the others,
// and prints each event it has not seen before as one line:
//
//     event SEQ TYPE LENDER LOAN_ID
//
// Deliveries are at least once and in seq order per endpoint, so the highest
// seq handled per webhook is all there is to remember (kept in memory here;
// keep it where your work is committed).
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Receiver {
    static final long TOLERANCE_S = 300;
    static byte[] secret;
    static final Map<Long, Long> last = new HashMap<>(); // webhook id -> highest seq handled

    static boolean verify(String header, byte[] body) throws Exception {
        String t = null, v1 = null;
        for (String kv : header == null ? new String[0] : header.split(",")) {
            if (kv.startsWith("t=")) t = kv.substring(2);
            if (kv.startsWith("v1=")) v1 = kv.substring(3);
        }
        if (t == null || v1 == null || !t.matches("[0-9]{1,12}")) return false;
        if (Math.abs(System.currentTimeMillis() / 1000 - Long.parseLong(t)) > TOLERANCE_S)
            return false; // a replay, or a clock far off
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        mac.update((t + ".").getBytes(StandardCharsets.US_ASCII));
        byte[] want = HexFormat.of().formatHex(mac.doFinal(body)).getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(want, v1.getBytes(StandardCharsets.US_ASCII));
    }

    // The body is coolingd's compact JSON; a real receiver uses its JSON
    // library. These take the fields that the dedupe and the line need.
    static final Pattern HOOK = Pattern.compile("^\\{\"webhook\":(\\d+)");
    static final Pattern EVENT = Pattern.compile(
        "\\{\"seq\":(\\d+),.*?\"lender\":(null|\"[^\"]*\"),\"loan_id\":(null|\"(?:[^\"\\\\]|\\\\.)*\"),"
        + "\"type\":\"([a-z_]+)\"");

    static void receive(HttpExchange x) throws java.io.IOException {
        try (x) {
            byte[] body = x.getRequestBody().readAllBytes();
            if (!verify(x.getRequestHeaders().getFirst("Coolingd-Signature"), body)) {
                x.sendResponseHeaders(401, -1);
                return;
            }
            String json = new String(body, StandardCharsets.UTF_8);
            Matcher h = HOOK.matcher(json);
            if (!h.find()) {
                x.sendResponseHeaders(400, -1);
                return;
            }
            long hook = Long.parseLong(h.group(1));
            Matcher e = EVENT.matcher(json);
            synchronized (last) {
                while (e.find()) {
                    long seq = Long.parseLong(e.group(1));
                    if (seq <= last.getOrDefault(hook, 0L))
                        continue; // delivered before: at least once, so skip it
                    handle(seq, e.group(4), e.group(2), e.group(3));
                    last.put(hook, seq);
                }
            }
            x.sendResponseHeaders(204, -1); // any 2xx acknowledges the batch
        } catch (Exception ex) {
            x.sendResponseHeaders(500, -1);
        }
    }

    // Your work goes here; it must be done, or queued durably, before the 2xx.
    static void handle(long seq, String type, String lender, String loanId) {
        System.out.println("event " + seq + " " + type + " " + unquote(lender) + " " + unquote(loanId));
        System.out.flush();
    }

    static String unquote(String s) {
        return s.equals("null") ? "None" : s.substring(1, s.length() - 1);
    }

    public static void main(String[] args) throws Exception {
        int port = 9000;
        String secretFile = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--port")) port = Integer.parseInt(args[i + 1]);
            else if (args[i].equals("--secret-file")) secretFile = args[i + 1];
        }
        if (secretFile == null) {
            System.err.println("usage: java Receiver.java [--port N] --secret-file FILE");
            System.exit(2);
        }
        secret = Files.readString(Path.of(secretFile)).strip().getBytes(StandardCharsets.US_ASCII);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/", Receiver::receive);
        server.start();
        System.out.println("listening on http://127.0.0.1:" + port + "/");
        System.out.flush();
    }
}
