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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
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
 *
 * Faults, for chaos runs (each a probability, 0 by default, drawn per accepted-or-refused submit_sm from one seeded
 * generator; changed at run time with POST /faults): courrier.smsc.syserrRate (answer ESME_RSYSERR, not accepted),
 * courrier.smsc.throttleRate (ESME_RTHROTTLED, not accepted), courrier.smsc.silentRate (no receipt at all),
 * courrier.smsc.duplicateReportRate (the final receipt sent twice, same bytes), courrier.smsc.enrouteAfterRate (an
 * ENROUTE receipt after the final one), courrier.smsc.reorderRate (an ENROUTE receipt first, the final one
 * courrier.smsc.reorderDelayMs (1000) later), courrier.smsc.faultSeed (the clock when unset; GET /faults shows it).
 * POST /drop closes every bound session at once; receipts they had not answered go to the next session bound.
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
    private final Faults faults = Faults.fromProperties();

    // Ids start from the clock so a restarted peer never reuses an id a client may still be waiting on.
    private final AtomicLong nextId = new AtomicLong(System.currentTimeMillis() * 1000L);
    private final AtomicLong total = new AtomicLong();
    // Counted at the SMSC so a chaos run can check the pipeline's ledger against what really went out.
    private final Map<String, AtomicLong> refused = new ConcurrentHashMap<>(Map.of(
            hex(SMPPConstant.STAT_ESME_RSYSERR), new AtomicLong(), hex(SMPPConstant.STAT_ESME_RTHROTTLED), new AtomicLong()));
    private final AtomicLong receiptsSent = new AtomicLong();
    private final AtomicLong duplicatesSent = new AtomicLong();
    private final AtomicLong enrouteSent = new AtomicLong();
    private final AtomicLong silenced = new AtomicLong();
    private final AtomicLong receiptRetries = new AtomicLong();
    private final AtomicLong receiptsDropped = new AtomicLong();
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
        Faults.Plan plan = faults.draw();
        if (plan.refusal() != 0) {
            // Refused before anything else: no id, no journal line, no receipt, as an SMSC that did not take it.
            refused.computeIfAbsent(hex(plan.refusal()), k -> new AtomicLong()).incrementAndGet();
            throw new ProcessRequestException("fault injected", plan.refusal());
        }
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
            Reports chain = new Reports(source, submit, id, text, reportsFor(plan, undelivered));
            if (chain.pending.isEmpty()) {
                silenced.incrementAndGet();
            } else {
                scheduleNext(chain);
            }
        }
        try {
            return new SubmitSmResult(new MessageId(id), new OptionalParameter[0]);
        } catch (PDUStringException e) {
            throw new ProcessRequestException("message id " + id + " not encodable", SMPPConstant.STAT_ESME_RSYSERR);
        }
    }

    /** One receipt of a message: its state, the pause before it is first offered, and whether it repeats the one before. */
    private record Report(DeliveryReceiptState state, long delayMs, boolean repeat) {
    }

    /** The receipts still owed for one accepted submit, sent one after the other so their order is the one planned. */
    private static final class Reports {
        final SMPPServerSession session;
        final SubmitSm submit;
        final String id;
        final String text;
        final Date submitted = new Date();
        final ArrayDeque<Report> pending;
        byte[] previous; // the last body taken, so a duplicate is the very same bytes

        Reports(SMPPServerSession session, SubmitSm submit, String id, String text, List<Report> reports) {
            this.session = session;
            this.submit = submit;
            this.id = id;
            this.text = text;
            this.pending = new ArrayDeque<>(reports);
        }
    }

    /** The receipts a message gets: the final one, plus the ENROUTE and repeats its faults ask for (none when silent). */
    private List<Report> reportsFor(Faults.Plan plan, boolean undelivered) {
        DeliveryReceiptState last = undelivered ? DeliveryReceiptState.UNDELIV : DeliveryReceiptState.DELIVRD;
        List<Report> reports = new ArrayList<>();
        if (plan.silent()) {
            return reports;
        }
        if (plan.reorder()) {
            reports.add(new Report(DeliveryReceiptState.ENROUTE, receiptDelayMs, false));
            reports.add(new Report(last, faults.reorderDelayMs(), false));
        } else {
            reports.add(new Report(last, receiptDelayMs, false));
        }
        if (plan.duplicate()) {
            reports.add(new Report(last, 0, true));
        }
        if (plan.enrouteAfter()) {
            reports.add(new Report(DeliveryReceiptState.ENROUTE, 0, false));
        }
        return reports;
    }

    private void scheduleNext(Reports chain) {
        Report next = chain.pending.peekFirst();
        byte[] body = next.repeat() ? chain.previous : receiptBody(chain, next.state());
        receipts.schedule(() -> deliveries.execute(() -> receipt(chain, body, 1)), next.delayMs(), TimeUnit.MILLISECONDS);
    }

    private static byte[] receiptBody(Reports chain, DeliveryReceiptState state) {
        boolean delivered = state == DeliveryReceiptState.DELIVRD;
        boolean failed = state == DeliveryReceiptState.UNDELIV;
        String excerpt = chain.text.length() > 20 ? chain.text.substring(0, 20) : chain.text;
        DeliveryReceipt receipt = new DeliveryReceipt(chain.id, 1, delivered ? 1 : 0, chain.submitted, new Date(), state,
                failed ? "001" : "000", excerpt);
        return receipt.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * Store and forward, as an SMSC does: a receipt goes to the submitting session, else to any bound one (a client that
     * crashed and bound again), retried every second while none takes it (answers it with status 0), 600 times. Only
     * once it is taken does the message's next receipt start its own delay.
     */
    private void receipt(Reports chain, byte[] body, int attempt) {
        SubmitSm submit = chain.submit;
        Delivery delivery = target -> target.deliverShortMessage("", TypeOfNumber.valueOf(submit.getDestAddrTon()),
                NumberingPlanIndicator.valueOf(submit.getDestAddrNpi()), submit.getDestAddress(),
                TypeOfNumber.valueOf(submit.getSourceAddrTon()), NumberingPlanIndicator.valueOf(submit.getSourceAddrNpi()),
                submit.getSourceAddr(), new ESMClass(MessageMode.DEFAULT, MessageType.SMSC_DEL_RECEIPT, GSMSpecificFeature.DEFAULT),
                (byte) 0, (byte) 0, new RegisteredDelivery(0), DataCodings.ZERO, body);
        for (SMPPServerSession target : candidates(chain.session)) {
            if (deliver(target, delivery, "receipt for " + chain.id)) {
                taken(chain, body);
                return;
            }
        }
        if (attempt < RECEIPT_ATTEMPTS) {
            receiptRetries.incrementAndGet();
            receipts.schedule(() -> deliveries.execute(() -> receipt(chain, body, attempt + 1)), 1, TimeUnit.SECONDS);
        } else {
            receiptsDropped.incrementAndGet();
            System.err.println("courrier-smsc: receipt for " + chain.id + " dropped after " + attempt + " attempts");
        }
    }

    /** The submitting session first when it can still receive, then every other bound one. */
    private List<SMPPServerSession> candidates(SMPPServerSession preferred) {
        List<SMPPServerSession> candidates = new ArrayList<>();
        if (preferred.getSessionState().isReceivable()) {
            candidates.add(preferred);
        }
        sessions.stream().filter(s -> s != preferred && s.getSessionState().isReceivable()).forEach(candidates::add);
        return candidates;
    }

    private void taken(Reports chain, byte[] body) {
        Report report = chain.pending.pollFirst();
        receiptsSent.incrementAndGet();
        if (report.repeat()) {
            duplicatesSent.incrementAndGet();
        } else if (report.state() == DeliveryReceiptState.ENROUTE) {
            enrouteSent.incrementAndGet();
        }
        chain.previous = body;
        if (!chain.pending.isEmpty()) {
            scheduleNext(chain);
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
        server.createContext("/stats", exchange -> answer(exchange, 200, stats()));
        server.createContext("/reset", exchange -> {
            reset();
            answer(exchange, 200, "{}");
        });
        server.createContext("/mo", this::mobileOriginated);
        server.createContext("/faults", this::faultsEndpoint);
        server.createContext("/drop", this::drop);
        server.setExecutor(Executors.newFixedThreadPool(2));
        server.start();
    }

    private String stats() {
        StringBuilder refusals = new StringBuilder();
        new java.util.TreeMap<>(refused).forEach((status, count) ->
                refusals.append(refusals.length() == 0 ? "" : ",").append('"').append(status).append("\":").append(count.get()));
        return "{\"total\":" + total.get() + ",\"sessions\":" + sessions.size() + ",\"refused\":{" + refusals + "}"
                + ",\"receipts_sent\":" + receiptsSent.get() + ",\"duplicates_sent\":" + duplicatesSent.get()
                + ",\"enroute_sent\":" + enrouteSent.get() + ",\"silenced\":" + silenced.get()
                + ",\"receipt_retries\":" + receiptRetries.get() + ",\"receipts_dropped\":" + receiptsDropped.get() + "}";
    }

    /** Clears the journal and every counter; the faults stay as they are (a run resets, then sets its faults). */
    private void reset() {
        synchronized (journal) {
            journal.clear();
        }
        total.set(0);
        refused.values().forEach(count -> count.set(0));
        for (AtomicLong count : List.of(receiptsSent, duplicatesSent, enrouteSent, silenced, receiptRetries, receiptsDropped)) {
            count.set(0);
        }
    }

    /** GET /faults → the current values; POST /faults with a flat JSON object and/or query parameters changes the ones named. */
    private void faultsEndpoint(HttpExchange exchange) throws IOException {
        if ("POST".equals(exchange.getRequestMethod())) {
            Map<String, String> values = parseQuery(exchange.getRequestURI().getRawQuery());
            try {
                values.putAll(parseFlatJson(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)));
                faults.update(values);
            } catch (IllegalArgumentException e) {
                answer(exchange, 400, "{\"error\":\"" + json(e.getMessage()) + "\"}");
                return;
            }
        } else if (!"GET".equals(exchange.getRequestMethod())) {
            answer(exchange, 405, "{\"error\":\"GET or POST\"}");
            return;
        }
        answer(exchange, 200, faults.toJson());
    }

    /**
     * POST /drop closes every bound session's connection at once, as a network cut would (?mode=unbind sends an unbind
     * first, in the background, as an SMSC going down for maintenance). Receipts not yet answered go to the next session.
     */
    private void drop(HttpExchange exchange) throws IOException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            answer(exchange, 405, "{\"error\":\"POST only\"}");
            return;
        }
        boolean unbind = "unbind".equals(parseQuery(exchange.getRequestURI().getRawQuery()).get("mode"));
        List<SMPPServerSession> bound = new ArrayList<>(sessions);
        for (SMPPServerSession session : bound) {
            if (unbind) {
                binds.execute(session::unbindAndClose); // waits for the unbind_resp: not on the control thread
            } else {
                session.close();
            }
        }
        answer(exchange, 200, "{\"dropped\":" + bound.size() + ",\"mode\":\"" + (unbind ? "unbind" : "close") + "\"}");
    }

    /** A flat JSON object of numbers ({"syserr_rate": 0.02, "seed": 7}): all /faults takes, so no JSON library. */
    private static Map<String, String> parseFlatJson(String body) {
        Map<String, String> values = new LinkedHashMap<>();
        String trimmed = body.strip();
        if (trimmed.isEmpty()) {
            return values;
        }
        if (!trimmed.startsWith("{") || !trimmed.endsWith("}")) {
            throw new IllegalArgumentException("the body must be a JSON object");
        }
        String inner = trimmed.substring(1, trimmed.length() - 1).strip();
        if (inner.isEmpty()) {
            return values;
        }
        for (String member : inner.split(",")) {
            String[] pair = member.split(":", 2);
            String key = pair[0].strip();
            if (pair.length != 2 || key.length() < 2 || !key.startsWith("\"") || !key.endsWith("\"")) {
                throw new IllegalArgumentException("not a \"name\": number member: " + member.strip());
            }
            String value = pair[1].strip();
            boolean quoted = value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"");
            values.put(key.substring(1, key.length() - 1), quoted ? value.substring(1, value.length() - 1) : value);
        }
        return values;
    }

    private static String hex(int status) {
        return String.format("0x%02x", status);
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

    /**
     * Fault probabilities and the generator they are drawn from. Every submit takes the same number of draws, whichever
     * faults hit, so one seed gives the same faults to the n-th submit the SMSC handles, run after run.
     */
    static final class Faults {
        static final String[] RATES = {"syserr_rate", "throttle_rate", "silent_rate", "duplicate_report_rate",
                "enroute_after_rate", "reorder_rate"};
        private static final String[] PROPERTIES = {"syserrRate", "throttleRate", "silentRate", "duplicateReportRate",
                "enrouteAfterRate", "reorderRate"};

        /** What the faults make of one submit: a refusal status (0 = accepted) and what happens to its receipts. */
        record Plan(int refusal, boolean silent, boolean duplicate, boolean enrouteAfter, boolean reorder) {
        }

        private final double[] rates = new double[RATES.length];
        private long seed;
        private long reorderDelayMs;
        private Random random;

        static Faults fromProperties() {
            Faults faults = new Faults();
            Map<String, String> values = new LinkedHashMap<>();
            for (int i = 0; i < RATES.length; i++) {
                values.put(RATES[i], System.getProperty("courrier.smsc." + PROPERTIES[i], "0"));
            }
            values.put("seed", System.getProperty("courrier.smsc.faultSeed", Long.toString(System.currentTimeMillis())));
            values.put("reorder_delay_ms", System.getProperty("courrier.smsc.reorderDelayMs", "1000"));
            faults.update(values); // a bad value stops the start with its name, rather than running without the fault
            return faults;
        }

        synchronized Plan draw() {
            double[] draws = new double[RATES.length];
            for (int i = 0; i < draws.length; i++) {
                draws[i] = random.nextDouble();
            }
            int refusal = draws[0] < rates[0] ? SMPPConstant.STAT_ESME_RSYSERR
                    : draws[1] < rates[1] ? SMPPConstant.STAT_ESME_RTHROTTLED : 0;
            return new Plan(refusal, draws[2] < rates[2], draws[3] < rates[3], draws[4] < rates[4], draws[5] < rates[5]);
        }

        synchronized long reorderDelayMs() {
            return reorderDelayMs;
        }

        /** Checks every value first, then applies them all: a bad request changes nothing. A seed restarts the draws. */
        synchronized void update(Map<String, String> values) {
            double[] next = rates.clone();
            Long newSeed = null;
            long newDelay = reorderDelayMs;
            for (Map.Entry<String, String> entry : values.entrySet()) {
                String name = entry.getKey();
                int index = java.util.Arrays.asList(RATES).indexOf(name);
                if (index >= 0) {
                    next[index] = rate(name, entry.getValue());
                } else if (name.equals("seed")) {
                    newSeed = whole(name, entry.getValue(), Long.MIN_VALUE);
                } else if (name.equals("reorder_delay_ms")) {
                    newDelay = whole(name, entry.getValue(), 0);
                } else {
                    throw new IllegalArgumentException("unknown fault " + name + "; the faults are "
                            + String.join(", ", RATES) + ", seed, reorder_delay_ms");
                }
            }
            System.arraycopy(next, 0, rates, 0, rates.length);
            reorderDelayMs = newDelay;
            if (newSeed != null) {
                seed = newSeed;
                random = new Random(seed);
            }
        }

        synchronized String toJson() {
            StringBuilder out = new StringBuilder("{");
            for (int i = 0; i < RATES.length; i++) {
                out.append('"').append(RATES[i]).append("\":").append(rates[i]).append(',');
            }
            return out.append("\"seed\":").append(seed).append(",\"reorder_delay_ms\":").append(reorderDelayMs).append('}').toString();
        }

        private static double rate(String name, String raw) {
            double value;
            try {
                value = Double.parseDouble(raw);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " must be a number, not " + raw);
            }
            if (!(value >= 0 && value <= 1)) {
                throw new IllegalArgumentException(name + " must be a probability between 0 and 1, not " + raw);
            }
            return value;
        }

        private static long whole(String name, String raw, long min) {
            try {
                long value = Long.parseLong(raw);
                if (value >= min) {
                    return value;
                }
            } catch (NumberFormatException e) {
                // said below, with the name
            }
            throw new IllegalArgumentException(name + " must be a whole number" + (min == 0 ? " ≥ 0" : "") + ", not " + raw);
        }
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
