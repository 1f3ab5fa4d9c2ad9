import enum TelemedTransport.Framing
import TelemedProtocol

// MARK: - MessageCodecCheck
//
// Input: a frame body. It is decoded by the codec of each named group (L = 256 and 384).
// A decoded message must re-encode to a body that decodes to the same message and encodes
// to the same bytes again (the encoder is canonical), no longer than the frame limit; a
// refused body must be refused the same way twice (the decoder has no hidden state).

/// The JSON message codec's fuzz driver (MessageCodec and its StrictJSONParser).
public enum MessageCodecCheck {
    static let codecs = [
        MessageCodec(groupName: "telemed-2048-256", elementLength: 256),
        MessageCodec(groupName: "telemed-3072-256", elementLength: 384),
    ]

    /// Runs one input; throws on the first violated property.
    public static func run(_ body: [UInt8]) throws(FuzzViolation) {
        for codec in codecs {
            let first = Result { () throws(DecodeError) -> Message in try codec.decode(body) }
            let second = Result { () throws(DecodeError) -> Message in try codec.decode(body) }
            try fuzzCheck(first == second, "decoding the same body twice gave different results")
            guard case let .success(message) = first else { continue }
            let encoded = codec.encode(message)
            try fuzzCheck((1...Framing.maxBodyLength).contains(encoded.count),
                          "re-encoded body of \(encoded.count) bytes")
            let again: Message
            do {
                again = try codec.decode(encoded)
            } catch {
                throw FuzzViolation("a re-encoded \(message.opcode) does not decode: \(error)")
            }
            try fuzzCheck(again == message, "a re-encoded \(message.opcode) decodes to another message")
            try fuzzCheck(codec.encode(again) == encoded, "encoding is not canonical for \(message.opcode)")
            try fuzzCheck(message.opcode == again.opcode, "opcode changed in a round trip")
        }
    }
}
