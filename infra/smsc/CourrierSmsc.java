import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jsmpp.PDUStringException;
import org.jsmpp.SMPPConstant;
import org.jsmpp.bean.BindType;
import org.jsmpp.bean.BroadcastSm;
import org.jsmpp.bean.CancelBroadcastSm;
import org.jsmpp.bean.CancelSm;
import org.jsmpp.bean.DataCodings;
import org.jsmpp.bean.DataSm;
import org.jsmpp.bean.DeliveryReceipt;
import org.jsmpp.bean.ESMClass;
import org.jsmpp.bean.GSMSpecificFeature;
import org.jsmpp.bean.InterfaceVersion;
import org.jsmpp.bean.MessageMode;
import org.jsmpp.bean.MessageType;
import org.jsmpp.bean.NumberingPlanIndicator;
import org.jsmpp.bean.OptionalParameter;
import org.jsmpp.bean.QueryBroadcastSm;
import org.jsmpp.bean.QuerySm;
import org.jsmpp.bean.RegisteredDelivery;
import org.jsmpp.bean.ReplaceSm;
import org.jsmpp.bean.SMSCDeliveryReceipt;
import org.jsmpp.bean.SubmitMulti;
import org.jsmpp.bean.SubmitSm;
import org.jsmpp.bean.TypeOfNumber;
import org.jsmpp.extra.ProcessRequestException;
import org.jsmpp.session.BindRequest;
import org.jsmpp.session.BroadcastSmResult;
import org.jsmpp.session.DataSmResult;
import org.jsmpp.session.QueryBroadcastSmResult;
import org.jsmpp.session.QuerySmResult;
import org.jsmpp.session.SMPPServerSession;
import org.jsmpp.session.SMPPServerSessionListener;
import org.jsmpp.session.ServerMessageReceiverListener;
import org.jsmpp.session.ServerResponseDeliveryAdapter;
import org.jsmpp.session.Session;
import org.jsmpp.session.SubmitMultiResult;
import org.jsmpp.session.SubmitSmResult;
import org.jsmpp.session.connection.ServerConnection;
import org.jsmpp.session.connection.ServerConnectionFactory;
import org.jsmpp.session.connection.socket.ServerSocketConnection;
import org.jsmpp.util.DeliveryReceiptState;
import org.jsmpp.util.MessageId;

/**
 * Courrier's SMPP 3.4 test peer, built on jsmpp's server session: binds on loopback only, answers every
 * submit_sm with a decimal message id, sends a delivery receipt (same id) after a delay, to the submitting session or,
 * when it is gone, to the next one bound (store and forward), journals every
 * accepted submit_sm so tests can count submissions, and injects mobile-originated messages on request.
 *
 * Unlike jsmpp's example simulator, the accept loop never waits for a bind (a session that closes early cannot
 * stop it) and receipts are scheduled, not slept for on a bounded pool (no ~100 receipts/s ceiling).
 *
 * A deliver_sm is delivered once the ESME answers it with status 0. Courrier answers only after the report is in
 * Kafka, a batch later, so up to DELIVERY_WINDOW deliver_sm wait for their answers at once, each for up to
 * courrier.smsc.deliverTimeoutMs; one unanswered by then, refused, or whose session closes meanwhile (its wait is
 * cut short) goes to the next bound session or is retried a second later.
 *
 * System properties: courrier.smsc.host (127.0.0.1), courrier.smsc.port (2775), courrier.smsc.systemId,
 * courrier.smsc.password, courrier.smsc.receiptDelayMs (200), courrier.smsc.controlPort (0 = off),
 * courrier.smsc.undelivSuffixes (comma-separated destination suffixes answered with UNDELIV),
 * courrier.smsc.deliverTimeoutMs (10000).
 */
public final class CourrierSmsc extends ServerResponseDeliveryAdapter implements ServerMessageReceiverListener {
    private static final int JOURNAL_MAX = 200_000;
    private static final int RECEIPT_ATTEMPTS = 600;
    private static final int DELIVERY_WINDOW = 256;
    private static final java.nio.charset.Charset GSM = java.nio.charset.Charset.forName("X-GSM7BIT");

    private final String host = System.getProperty("courrier.smsc.host", "127.0.0.1");
    private final int port = Integer.getInteger("courrier.smsc.port", 2775);
    private final String systemId = System.getProperty("courrier.smsc.systemId", "j");
    private final String password = System.getProperty("courrier.smsc.password", "jpwd");
    private final long receiptDelayMs = Long.getLong("courrier.smsc.receiptDelayMs", 200L);
    private final int controlPort = Integer.getInteger("courrier.smsc.controlPort", 0);
    private final List<String> undelivSuffixes = splitList(System.getProperty("courrier.smsc.undelivSuffixes", ""));
    private final long deliverTimeoutMs = Long.getLong("courrier.smsc.deliverTimeoutMs", 10_000L);

    // Ids start from the clock so a restarted peer never reuses an id a client may still be waiting on.
    private final AtomicLong nextId = new AtomicLong(System.currentTimeMillis() * 1000L);
    private final AtomicLong total = new AtomicLong();
    private final ArrayDeque<String> journal = new ArrayDeque<>();
    private final Set<SMPPServerSession> sessions = ConcurrentHashMap.newKeySet();
    private final ExecutorService binds = Executors.newCachedThreadPool();
    private final ScheduledExecutorService receipts = Executors.newScheduledThreadPool(4);
    // A deliver_sm holds its thread until answered: receipts are scheduled above and delivered here.
    private final ThreadPoolExecutor deliveries = new ThreadPoolExecutor(DELIVERY_WINDOW, DELIVERY_WINDOW, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>());
    // The threads waiting for a deliver_sm_resp, by session: interrupted when it closes, so they give up at once.
    private final Map<SMPPServerSession, Set<Thread>> waiting = new ConcurrentHashMap<>();

    /** One deliver_sm to send on a session, returning once the ESME answered it with status 0. */
    private interface Delivery {
        void send(SMPPServerSession target) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        new CourrierSmsc().run();
    }

    private void run() throws IOException {
        deliveries.allowCoreThreadTimeOut(true);
        if (controlPort > 0) {
            startControl();
        }
        try (SMPPServerSessionListener listener = new SMPPServerSessionListener(port, new LoopbackFactory(host))) {
            System.err.println("courrier-smsc listening on " + host + ":" + port);
            while (true) {
                try {
                    SMPPServerSession session = listener.accept();
                    session.setMessageReceiverListener(this);
                    session.setResponseDeliveryListener(this);
                    binds.execute(() -> bind(session));
                } catch (IOException | RuntimeException e) {
                    System.err.println("courrier-smsc: accept failed, going on: " + e);
                }
            }
        }
    }

    private void bind(SMPPServerSession session) {
        try {
            BindRequest request = session.waitForBind(30_000);
            if (!BindType.BIND_TRX.equals(request.getBindType())) {
                request.reject(SMPPConstant.STAT_ESME_RBINDFAIL);
            } else if (!systemId.equals(request.getSystemId())) {
                request.reject(SMPPConstant.STAT_ESME_RINVSYSID);
            } else if (!password.equals(request.getPassword())) {
                request.reject(SMPPConstant.STAT_ESME_RINVPASWD);
            } else {
                session.setInterfaceVersion(InterfaceVersion.IF_34);
                session.setTransactionTimer(deliverTimeoutMs);
                request.accept("courrier-smsc", InterfaceVersion.IF_34);
                sessions.add(session);
                session.addSessionStateListener((newState, oldState, source) -> {
                    if (!newState.isBound()) {
                        sessions.remove(session);
                        waiting.getOrDefault(session, Set.of()).forEach(Thread::interrupt);
                    }
                });
            }
        } catch (Exception e) {
            System.err.println("courrier-smsc: session " + session.getSessionId() + " did not bind: " + e);
        }
    }

    @Override
    public SubmitSmResult onAcceptSubmitSm(SubmitSm submit, SMPPServerSession source) throws ProcessRequestException {
        String id = Long.toString(nextId.getAndIncrement());
        byte[] body = submit.getShortMessage();
        OptionalParameter payload = submit.getOptionalParameter(OptionalParameter.Tag.MESSAGE_PAYLOAD);
        if ((body == null || body.length == 0) && payload instanceof OptionalParameter.OctetString) {
            body = ((OptionalParameter.OctetString) payload).getValue();
        }
        String text = decode(body, submit.getDataCoding(), (submit.getEsmClass() & 0x40) != 0);
        remember(id, submit.getSourceAddr(), submit.getDestAddress(), text);
        if (SMSCDeliveryReceipt.SUCCESS_FAILURE.containedIn(submit.getRegisteredDelivery())
                || SMSCDeliveryReceipt.FAILURE.containedIn(submit.getRegisteredDelivery())) {
            String destination = submit.getDestAddress();
            boolean undelivered = undelivSuffixes.stream().anyMatch(destination::endsWith);
            receipts.schedule(() -> deliveries.execute(() -> receipt(source, submit, id, undelivered, text, 1)),
                    receiptDelayMs, TimeUnit.MILLISECONDS);
        }
        try {
            return new SubmitSmResult(new MessageId(id), new OptionalParameter[0]);
        } catch (PDUStringException e) {
            throw new ProcessRequestException("message id " + id + " not encodable", SMPPConstant.STAT_ESME_RSYSERR);
        }
    }

    /**
     * Store and forward, as an SMSC does: a receipt goes to the submitting session, else to any bound one (a client that
     * crashed and bound again), retried every second while none takes it (answers it with status 0), 600 times.
     */
    private void receipt(SMPPServerSession session, SubmitSm submit, String id, boolean undelivered, String text, int attempt) {
        DeliveryReceiptState state = undelivered ? DeliveryReceiptState.UNDELIV : DeliveryReceiptState.DELIVRD;
        String excerpt = text.length() > 20 ? text.substring(0, 20) : text;
        DeliveryReceipt receipt = new DeliveryReceipt(id, 1, undelivered ? 0 : 1, new Date(), new Date(), state,
                undelivered ? "001" : "000", excerpt);
        List<SMPPServerSession> candidates = new ArrayList<>();
        if (session.getSessionState().isReceivable()) {
            candidates.add(session);
        }
        sessions.stream().filter(s -> s != session && s.getSessionState().isReceivable()).forEach(candidates::add);
        Delivery delivery = target -> target.deliverShortMessage("", TypeOfNumber.valueOf(submit.getDestAddrTon()),
                NumberingPlanIndicator.valueOf(submit.getDestAddrNpi()), submit.getDestAddress(),
                TypeOfNumber.valueOf(submit.getSourceAddrTon()), NumberingPlanIndicator.valueOf(submit.getSourceAddrNpi()),
                submit.getSourceAddr(), new ESMClass(MessageMode.DEFAULT, MessageType.SMSC_DEL_RECEIPT, GSMSpecificFeature.DEFAULT),
                (byte) 0, (byte) 0, new RegisteredDelivery(0), DataCodings.ZERO,
                receipt.toString().getBytes(StandardCharsets.ISO_8859_1));
        for (SMPPServerSession target : candidates) {
            if (deliver(target, delivery, "receipt for " + id)) {
                return;
            }
        }
        if (attempt < RECEIPT_ATTEMPTS) {
            receipts.schedule(() -> deliveries.execute(() -> receipt(session, submit, id, undelivered, text, attempt + 1)),
                    1, TimeUnit.SECONDS);
        } else {
            System.err.println("courrier-smsc: receipt for " + id + " dropped after " + attempt + " attempts");
        }
    }

    /** Sends one deliver_sm on {@code target}; false when it was refused, went unanswered, or the session closed meanwhile. */
    private boolean deliver(SMPPServerSession target, Delivery delivery, String what) {
        Thread current = Thread.currentThread();
        Set<Thread> mine = waiting.computeIfAbsent(target, s -> ConcurrentHashMap.newKeySet());
        mine.add(current);
        try {
            if (!target.getSessionState().isReceivable()) {
                return false; // closed before this thread could be interrupted for it
            }
            delivery.send(target);
            return true;
        } catch (Exception e) {
            System.err.println("courrier-smsc: " + what + " not taken by session " + target.getSessionId() + ": " + e);
            return false;
        } finally {
            mine.remove(current);
            if (mine.isEmpty() && !target.getSessionState().isBound()) {
                waiting.remove(target, mine);
            }
            Thread.interrupted(); // an interrupt meant for this session must not cut short the next delivery
        }
    }

    /** Text of a submit: UCS-2 for data_coding 8, the GSM 03.38 default alphabet (unpacked) otherwise; the UDH is skipped. */
    private static String decode(byte[] body, byte dataCoding, boolean hasUdh) {
        if (body == null) {
            return "";
        }
        int start = hasUdh && body.length > 0 ? Math.min(body.length, (body[0] & 0xff) + 1) : 0;
        if ((dataCoding & 0xff) == 8) {
            return new String(body, start, body.length - start, StandardCharsets.UTF_16BE);
        }
        return new String(body, start, body.length - start, GSM);
    }

    private void remember(String id, String source, String destination, String text) {
        total.incrementAndGet();
        String line = "{\"id\":\"" + id + "\",\"from\":\"" + json(source) + "\",\"to\":\"" + json(destination)
                + "\",\"text\":\"" + json(text) + "\",\"at\":" + System.currentTimeMillis() + "}";
        synchronized (journal) {
            journal.addLast(line);
            if (journal.size() > JOURNAL_MAX) {
                journal.removeFirst();
            }
        }
    }

    private void startControl() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(host), controlPort), 16);
        server.createContext("/submissions", exchange -> {
            List<String> lines;
            synchronized (journal) {
                lines = new ArrayList<>(journal);
            }
            answer(exchange, 200, String.join("\n", lines) + (lines.isEmpty() ? "" : "\n"));
        });
        server.createContext("/stats", exchange -> answer(exchange, 200,
                "{\"total\":" + total.get() + ",\"sessions\":" + sessions.size() + "}"));
        server.createContext("/reset", exchange -> {
            synchronized (journal) {
                journal.clear();
            }
            total.set(0);
            answer(exchange, 200, "{}");
        });
        server.createContext("/mo", this::mobileOriginated);
        server.setExecutor(Executors.newFixedThreadPool(2));
        server.start();
    }

    /** POST /mo?from=…&to=…&text=… → a deliver_sm to every bound session (a recipient texting one of our senders). */
    private void mobileOriginated(HttpExchange exchange) throws IOException {
        Map<String, String> query = parseQuery(exchange.getRequestURI().getRawQuery());
        String from = query.getOrDefault("from", "");
        String to = query.getOrDefault("to", "");
        byte[] text = query.getOrDefault("text", "").getBytes(StandardCharsets.UTF_16BE);
        int sent = 0;
        Delivery delivery = target -> target.deliverShortMessage("", TypeOfNumber.INTERNATIONAL, NumberingPlanIndicator.ISDN,
                from, TypeOfNumber.UNKNOWN, NumberingPlanIndicator.UNKNOWN, to, new ESMClass(), (byte) 0, (byte) 0,
                new RegisteredDelivery(0), DataCodings.newInstance((byte) 8), text);
        for (SMPPServerSession session : sessions) {
            if (deliver(session, delivery, "MO")) {
                sent++;
                break;
            }
        }
        answer(exchange, sent > 0 ? 200 : 503, "{\"delivered\":" + sent + "}");
    }

    private static Map<String, String> parseQuery(String raw) {
        Map<String, String> values = new ConcurrentHashMap<>();
        if (raw == null) {
            return values;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                values.put(java.net.URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return values;
    }

    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static String json(String value) {
        StringBuilder out = new StringBuilder();
        for (char c : (value == null ? "" : value).toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static List<String> splitList(String raw) {
        List<String> values = new ArrayList<>();
        for (String part : raw.split(",")) {
            if (!part.isBlank()) {
                values.add(part.trim());
            }
        }
        return values;
    }

    @Override
    public QuerySmResult onAcceptQuerySm(QuerySm querySm, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("query_sm not supported", SMPPConstant.STAT_ESME_RINVCMDID);
    }

    @Override
    public SubmitMultiResult onAcceptSubmitMulti(SubmitMulti submitMulti, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("submit_multi not supported", SMPPConstant.STAT_ESME_RINVCMDID);
    }

    @Override
    public DataSmResult onAcceptDataSm(DataSm dataSm, Session source) throws ProcessRequestException {
        throw new ProcessRequestException("data_sm not supported", SMPPConstant.STAT_ESME_RINVCMDID);
    }

    @Override
    public void onAcceptCancelSm(CancelSm cancelSm, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("cancel_sm not supported", SMPPConstant.STAT_ESME_RCANCELFAIL);
    }

    @Override
    public void onAcceptReplaceSm(ReplaceSm replaceSm, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("replace_sm not supported", SMPPConstant.STAT_ESME_RREPLACEFAIL);
    }

    @Override
    public BroadcastSmResult onAcceptBroadcastSm(BroadcastSm broadcastSm, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("broadcast_sm not supported", SMPPConstant.STAT_ESME_RINVCMDID);
    }

    @Override
    public void onAcceptCancelBroadcastSm(CancelBroadcastSm cancel, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("cancel_broadcast_sm not supported", SMPPConstant.STAT_ESME_RINVCMDID);
    }

    @Override
    public QueryBroadcastSmResult onAcceptQueryBroadcastSm(QueryBroadcastSm query, SMPPServerSession source) throws ProcessRequestException {
        throw new ProcessRequestException("query_broadcast_sm not supported", SMPPConstant.STAT_ESME_RINVCMDID);
    }

    /** jsmpp's listener binds every interface; this one binds the configured (loopback) address only. */
    private static final class LoopbackFactory implements ServerConnectionFactory {
        private final InetAddress address;

        LoopbackFactory(String host) throws IOException {
            this.address = InetAddress.getByName(host);
        }

        @Override
        public ServerConnection listen(int port) throws IOException {
            return new ServerSocketConnection(new ServerSocket(port, 50, address));
        }

        @Override
        public ServerConnection listen(int port, int timeout) throws IOException {
            ServerSocket socket = new ServerSocket(port, 50, address);
            socket.setSoTimeout(timeout);
            return new ServerSocketConnection(socket);
        }

        @Override
        public ServerConnection listen(int port, int timeout, int backlog) throws IOException {
            ServerSocket socket = new ServerSocket(port, backlog, address);
            socket.setSoTimeout(timeout);
            return new ServerSocketConnection(socket);
        }
    }
}
