/// Placeholder until this module lands.
enum TelemedTransportModule {}
