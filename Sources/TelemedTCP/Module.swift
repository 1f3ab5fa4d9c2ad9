/// Placeholder until this module lands.
enum TelemedTCPModule {}
