import NIOCore
import TelemedTransport

// MARK: - FrameDecoder
//
// Theory of operation: the decoder reads the 4-byte big-endian length as soon as it has it
// and judges it BEFORE waiting for any body byte: 0 or more than 65536 throws at once, so a
// peer can never make the connection buffer more than one legal frame. It also announces the
// first byte of each frame, which starts the handler's frame timer. Bytes left over at the end
// of the stream are a cut frame.

/// What the decoder hands to the connection handler.
enum InboundFrameEvent {
    /// The first byte of a new frame has arrived.
    case frameStarted
    /// A complete frame body.
    case frame(ByteBuffer)
}

/// A framing violation found by the decoder; the handler closes with `reason`.
struct FrameDecodingError: Error {
    let reason: CloseReason
}

/// Splits the inbound byte stream into length-prefixed frames.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrameEvent

    private var announcedCurrentFrame = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes > 0 else { return .needMoreData }
        if !announcedCurrentFrame {
            announcedCurrentFrame = true
            context.fireChannelRead(wrapInboundOut(.frameStarted))
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        if let reason = FrameFormat.violation(forAnnouncedLength: length) {
            throw FrameDecodingError(reason: reason)
        }
        let total = FrameFormat.prefixLength + Int(length)
        guard buffer.readableBytes >= total,
              let body = buffer.getSlice(at: buffer.readerIndex + FrameFormat.prefixLength, length: Int(length))
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: total)
        announcedCurrentFrame = false
        context.fireChannelRead(wrapInboundOut(.frame(body)))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        let state = try decode(context: context, buffer: &buffer)
        if state == .needMoreData, buffer.readableBytes > 0 {
            throw FrameDecodingError(reason: .cutFrame)
        }
        return state
    }
}
