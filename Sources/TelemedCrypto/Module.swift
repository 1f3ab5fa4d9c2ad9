/// Placeholder until this module lands.
enum TelemedCryptoModule {}
