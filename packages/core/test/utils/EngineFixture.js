export {};
//# sourceMappingURL=EngineFixture.js.map