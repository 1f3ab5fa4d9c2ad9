#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import TelemedTransport

// MARK: - ConnectionHandler
//
// Theory of operation. One handler per TCP connection, the only handler in its pipeline, living
// on the connection's event loop. It turns channel life into `TransportEvent`s and carries out
// the runtime's sends and closes. Inbound bytes go through the package's one `FrameReader`
// (the same the in-memory network uses); outbound bodies through `Framing.frame`.
//
// States: `waiting` (not yet active) → `open` (opened reported) → `closing` (the runtime
// asked to close: queued frames are flushed, then the write side is shut and the handler
// lingers for the peer's end of stream) → `closed` (closed reported; nothing follows).
// Rules:
// - Exactly one `.opened` and one `.closed` per connection; frame reports only while `open`.
// - The transport reports and the runtime decides: a refused length prefix is reported
//   (`.frameRefused`) and later input is read and discarded, but the connection stays open and
//   writable so the runtime can answer (REJECTED) before it closes; a frame that begins and
//   does not complete is reported (`.frameStarted`) and its deadline is the runtime's. The
//   handler runs no handshake, frame or idle timer.
// - It closes by itself only when it cannot go on: a write deadline passed (`.writeTimeout`),
//   a send would exceed the outbound bound (`.outboundQueueFull`). The close reason is the
//   first of: such a local failure or the runtime's close (`.byLocal`), a cut frame seen at end
//   of stream, a socket error other than a reset, and otherwise `.byPeer` (a FIN or a reset
//   between frames).
// - Outbound: each frame remembers its write deadline; the write timer follows the oldest
//   unwritten frame. Inbound: once `maxUnconsumedFrames` frames wait untaken in the event
//   stream, `read` calls are held until the consumer catches up.

final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State { case waiting, open, closing, closed }
    private enum Timer: Hashable { case write, linger }
    private struct PendingWrite {
        let deadline: NIODeadline
        let size: Int
    }

    let id: ConnectionID
    private let settings: TCPConnectionSettings
    private let emit: @Sendable (TransportEvent) -> Void

    private var context: ChannelHandlerContext?
    private var state = State.waiting
    private var localReason: CloseReason?
    private var reader = FrameReader()
    private var socketError: String?
    private var pendingWrites = CircularBuffer<PendingWrite>()
    private var queuedBytes = 0
    private var unconsumedFrames = 0
    private var heldRead = false
    private var lingering = false
    private var timers: [Timer: Scheduled<Void>] = [:]

    /// True on a PROXY-protocol listener: the connection opens (and is reported) only when
    /// the ``ProxyHeaderHandler`` before it announces the source.
    private let waitsForProxyHeader: Bool

    init(id: ConnectionID, settings: TCPConnectionSettings, waitsForProxyHeader: Bool = false,
         emit: @escaping @Sendable (TransportEvent) -> Void) {
        self.id = id
        self.settings = settings
        self.waitsForProxyHeader = waitsForProxyHeader
        self.emit = emit
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { becomeActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelAllTimers()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        becomeActive(context: context)
        context.fireChannelActive()
    }

    private func becomeActive(context: ChannelHandlerContext) {
        guard state == .waiting, !waitsForProxyHeader else { return }
        open(context: context, as: PeerAddress(context.channel.remoteAddress))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let parsed = event as? ProxyHeaderHandler.Parsed {
            guard state == .waiting else { return }
            open(context: context, as: parsed.source)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Reports the connection opened from `peer` (the socket's, or a PROXY header's source).
    private func open(context: ChannelHandlerContext, as peer: PeerAddress?) {
        guard let peer else {
            state = .closed  // never reported, so nothing to report closed either
            context.close(promise: nil)
            return
        }
        state = .open
        emit(.opened(id, peer))
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelAllTimers()
        if state == .open || state == .closing {
            // Bytes of an unfinished frame left in the reader make any end of stream a cut frame.
            let reason = localReason ?? (reader.isInsideFrame ? .cutFrame : socketError.map(CloseReason.error) ?? .byPeer)
            emit(.closed(id, reason))
        }
        state = .closed
        context.fireChannelInactive()
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let reports = buffer.withUnsafeReadableBytes { reader.receive($0) }
        // While closing, the runtime is done with this peer: its bytes are read and dropped.
        guard state == .open else { return }
        for report in reports {
            switch report {
            case .frameStarted:
                emit(.frameStarted(id))
            case let .frame(body):
                unconsumedFrames += 1
                emit(.frame(id, body))
            case let .refused(error):
                emit(.frameRefused(id, error))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch error {
        case let error as IOError where error.errnoCode == ECONNRESET:
            // A reset is the peer's end of stream, like a FIN: between frames it is `.byPeer`;
            // bytes of an unfinished frame still make it a `.cutFrame` (PROTOCOL.md §5: a
            // connection closed by the peer before the first byte of a frame is no rejection).
            break
        case let error as IOError:
            socketError = socketError ?? error.description
        default:
            socketError = socketError ?? String(describing: error)
        }
        context.close(promise: nil)
    }

    /// The consumer took one of this connection's frames from the event stream.
    func frameConsumed() {
        unconsumedFrames = max(0, unconsumedFrames - 1)
        releaseHeldReadIfAllowed()
    }

    func read(context: ChannelHandlerContext) {
        if state == .open, unconsumedFrames >= settings.maxUnconsumedFrames {
            heldRead = true
        } else {
            context.read()
        }
    }

    private func releaseHeldReadIfAllowed() {
        guard heldRead, let context, state != .open || unconsumedFrames < settings.maxUnconsumedFrames else { return }
        heldRead = false
        context.read()
    }

    // MARK: - Outbound

    /// Queues one frame body.
    func send(_ body: [UInt8]) {
        guard state == .open, let context else { return }
        let frame = Framing.frame(body)
        let size = frame.count
        guard queuedBytes + size <= settings.maxQueuedOutboundBytes else {
            fail(.outboundQueueFull)
            return
        }
        let buffer = context.channel.allocator.buffer(bytes: frame)
        pendingWrites.append(PendingWrite(deadline: .now() + TimeAmount(settings.writeTimeout), size: size))
        queuedBytes += size
        if pendingWrites.count == 1 { armWriteTimer() }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in self.writeFinished() }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    private func writeFinished() {
        guard let done = pendingWrites.popFirst() else { return }
        queuedBytes -= done.size
        armWriteTimer()
        if state == .closing, pendingWrites.isEmpty, !lingering { startLinger() }
    }

    private func armWriteTimer() {
        if let oldest = pendingWrites.first {
            arm(.write, at: oldest.deadline)
        } else {
            cancel(.write)
        }
    }

    // MARK: - Closing

    /// Closes after the queued frames are written (the runtime's `close`). Returns false when
    /// the connection never opened (the caller may then close the channel outright).
    @discardableResult
    func requestClose() -> Bool {
        guard state == .open else { return state != .waiting }
        state = .closing
        localReason = localReason ?? .byLocal
        releaseHeldReadIfAllowed()
        if pendingWrites.isEmpty { startLinger() }
        return true
    }

    private func startLinger() {
        guard let context else { return }
        lingering = true
        arm(.linger, in: settings.lingerTimeout)
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenFailure { _ in self.context?.close(promise: nil) }
        context.close(mode: .output, promise: promise)
    }

    /// Closes at once (no flush) because of `reason`.
    private func fail(_ reason: CloseReason) {
        guard state == .open || state == .closing, let context else { return }
        if localReason == nil || localReason == .byLocal { localReason = reason }
        context.close(promise: nil)
    }

    // MARK: - Timers

    private func arm(_ timer: Timer, in amount: Duration) {
        arm(timer, at: .now() + TimeAmount(amount))
    }

    private func arm(_ timer: Timer, at deadline: NIODeadline) {
        guard let context else { return }
        timers[timer]?.cancel()
        timers[timer] = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timers[timer] = nil
            self.fire(timer)
        }
    }

    private func cancel(_ timer: Timer) {
        timers.removeValue(forKey: timer)?.cancel()
    }

    private func cancelAllTimers() {
        for scheduled in timers.values { scheduled.cancel() }
        timers = [:]
    }

    private func fire(_ timer: Timer) {
        switch timer {
        case .write:
            guard let oldest = pendingWrites.first else { return }
            if oldest.deadline <= .now() { fail(.writeTimeout) } else { arm(.write, at: oldest.deadline) }
        case .linger:
            context?.close(promise: nil)
        }
    }
}
