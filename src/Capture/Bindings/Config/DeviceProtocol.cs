namespace Capture.Bindings.Config;

/// <summary>The signalling a configured device speaks (JSON <c>"sip"</c> / <c>"skinny"</c>, or omitted when not known).</summary>
public enum DeviceProtocol
{
    Unknown,
    Sip,
    Skinny,
}
