/// Placeholder until this module lands.
enum TelemedNodeModule {}
