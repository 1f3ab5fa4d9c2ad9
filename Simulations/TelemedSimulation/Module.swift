enum TelemedSimulationModule {}
