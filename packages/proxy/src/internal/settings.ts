/**
 * The proxy's options, validated when the proxy is built: a value that is given but wrong is a
 * `ConfigError` naming the option (`QueueConfig.invalidData`, as every lockstep layer reports its
 * options).
 */
import { QueueConfig } from "@lockstep/core"
import type * as Config from "effect/Config"
import * as Result from "effect/Result"
import type { ProxyOptions } from "../ProxyLayer.js"
import type { ProxySettings } from "./roomProxy.js"

/** Deliveries buffered per local client by default. */
export const defaultBufferSize = 1024

/** Validate the options and fill in the defaults. */
export const validate = (options: ProxyOptions = {}): Result.Result<ProxySettings, Config.ConfigError> => {
  const bufferSize = options.bufferSize ?? defaultBufferSize
  return Number.isSafeInteger(bufferSize) && bufferSize >= 1
    ? Result.succeed({ bufferSize })
    : Result.fail(
      QueueConfig.invalidData("bufferSize", `bufferSize must be a positive integer, got ${String(bufferSize)}`)
    )
}
