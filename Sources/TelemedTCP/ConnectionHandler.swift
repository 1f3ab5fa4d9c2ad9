#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import TelemedTransport

// MARK: - ConnectionHandler
//
// Theory of operation. One handler per TCP connection, last in the pipeline after the
// `FrameDecoder`, living on the connection's event loop. It turns channel life into
// `TransportEvent`s and carries out the runtime's sends and closes.
//
// States: `waiting` (not yet active) → `open` (opened reported) → `closing` (the runtime
// asked to close: queued frames are flushed, then the write side is shut and the handler
// lingers for the peer's end of stream) → `closed` (closed reported; nothing follows).
// Rules:
// - Exactly one `.opened` and one `.closed` per connection; frames only while `open`.
// - The close reason is the first of: a local decision (byLocal, a timeout, a framing
//   violation, a full outbound queue), a cut frame seen at end of stream, a socket error
//   other than a reset, and otherwise `.byPeer` (a FIN or a reset between frames). A
//   timeout or violation replaces a pending `.byLocal`.
// - Every timer is armed only while its condition can still happen, and every timeout
//   closes at once without flushing.
// - Outbound: each frame remembers its write deadline; the write timer follows the oldest
//   unwritten frame. Inbound: once `maxUnconsumedFrames` frames wait untaken in the event
//   stream, `read` calls are held until the consumer catches up.

/// Runs one connection (see the theory of operation above).
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrameEvent
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State { case waiting, open, closing, closed }
    private enum Timer: Hashable { case handshake, frame, idle, write, linger }
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
    private var sawCutFrame = false
    private var socketError: String?
    private var sawCompleteFrame = false
    private var lastInbound = NIODeadline.now()
    private var pendingWrites = CircularBuffer<PendingWrite>()
    private var queuedBytes = 0
    private var unconsumedFrames = 0
    private var heldRead = false
    private var lingering = false
    private var timers: [Timer: Scheduled<Void>] = [:]

    init(id: ConnectionID, settings: TCPConnectionSettings, emit: @escaping @Sendable (TransportEvent) -> Void) {
        self.id = id
        self.settings = settings
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
        guard state == .waiting else { return }
        guard let peer = PeerAddress(context.channel.remoteAddress) else {
            state = .closed  // never reported, so nothing to report closed either
            context.close(promise: nil)
            return
        }
        state = .open
        emit(.opened(id, peer))
        lastInbound = .now()
        if let timeout = settings.handshakeTimeout { arm(.handshake, in: timeout) }
        if let timeout = settings.idleTimeout { arm(.idle, in: timeout) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelAllTimers()
        if state == .open || state == .closing {
            let reason = localReason ?? (sawCutFrame ? .cutFrame : socketError.map(CloseReason.error) ?? .byPeer)
            emit(.closed(id, reason))
        }
        state = .closed
        context.fireChannelInactive()
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .frameStarted:
            if state == .open, let timeout = settings.frameTimeout { arm(.frame, in: timeout) }
        case .frame(let body):
            cancel(.frame)
            if !sawCompleteFrame {
                sawCompleteFrame = true
                cancel(.handshake)
            }
            guard state == .open else { return }  // closing: the runtime is done with this peer
            unconsumedFrames += 1
            emit(.frame(id, Array(body.readableBytesView)))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        lastInbound = .now()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch error {
        case let framing as FrameDecodingError where framing.reason == .cutFrame:
            sawCutFrame = true
            context.close(promise: nil)
        case let framing as FrameDecodingError:
            fail(framing.reason)
        case ByteToMessageDecoderError.dataReceivedInErrorState:
            return  // the violation was already handled
        case let error as IOError where error.errnoCode == ECONNRESET:
            // A reset is the peer's end of stream, like a FIN: between frames it is `.byPeer`;
            // bytes of an unfinished frame still make it a `.cutFrame` (PROTOCOL.md §5: a
            // connection closed by the peer before the first byte of a frame is no rejection).
            return
        case let error as IOError:
            socketError = socketError ?? error.description
        default:
            socketError = socketError ?? String(describing: error)
        }
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
        let size = FrameFormat.prefixLength + body.count
        guard queuedBytes + size <= settings.maxQueuedOutboundBytes else {
            fail(.outboundQueueFull)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: size)
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
        pendingWrites.append(PendingWrite(deadline: .now() + settings.writeTimeout.timeAmount, size: size))
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
        for timer in [Timer.handshake, .frame, .idle] { cancel(timer) }
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
        for timer in [Timer.handshake, .frame, .idle] { cancel(timer) }
        context.close(promise: nil)
    }

    // MARK: - Timers

    private func arm(_ timer: Timer, in amount: Duration) {
        arm(timer, at: .now() + amount.timeAmount)
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
        case .handshake:
            if state == .open, !sawCompleteFrame { fail(.handshakeTimeout) }
        case .frame:
            if state == .open { fail(.frameTimeout) }
        case .idle:
            guard state == .open, let timeout = settings.idleTimeout else { return }
            let due = lastInbound + timeout.timeAmount
            if due <= .now() { fail(.idleTimeout) } else { arm(.idle, at: due) }
        case .write:
            guard let oldest = pendingWrites.first else { return }
            if oldest.deadline <= .now() { fail(.writeTimeout) } else { arm(.write, at: oldest.deadline) }
        case .linger:
            context?.close(promise: nil)
        }
    }
}
