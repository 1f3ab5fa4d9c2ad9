/// Placeholder until this module lands.
enum TelemedProtocolModule {}
