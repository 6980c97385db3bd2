using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Capture.Bindings;
using Capture.Calls;
using Capture.Diagnostics;
using Capture.Packets;

namespace Capture.Rtp;

/// <summary>Recording RTP that no signalling claims.</summary>
public sealed class UnsignalledRtpOptions
{
    /// <summary>
    /// Record RTP streams that no SIP or Skinny call claims (signalling not mirrored, encrypted, or lost). On by default:
    /// a recorder that drops audio because it missed the signalling loses recordings silently.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Such a call ends when neither direction has sent a packet for this long.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>At most this many flows are watched at once while they prove (or fail to prove) to be RTP.</summary>
    public int MaxCandidates { get; set; } = 4096;
}

/// <summary>What <see cref="UnsignalledRtpTracker.Offer"/> made of a datagram.</summary>
public enum UnsignalledRtpResult : byte
{
    /// <summary>Not RTP the recorder could use (or disabled): the pipeline counts it as unclassified UDP.</summary>
    NotRtp,

    /// <summary>Looks like the start of an RTP stream; counted here until the stream is proved (or refused).</summary>
    Probing,

    /// <summary>RTP of a stream whose codec cannot be recorded (video, an unknown dynamic type): counted here, dropped.</summary>
    Unrecordable,

    /// <summary>RTP at an endpoint signalling accounts for (a call's trailing packets, a recording fork): counted here, dropped.</summary>
    Quiet,

    /// <summary>
    /// The datagram proved its stream, or carries the SSRC of a call's party (a media relay's other leg): a call now owns
    /// the flow, so the media table classifies it.
    /// </summary>
    Recognised,
}

/// <summary>
/// Recognises RTP streams that no signalling announced and records each address pair as a call with protocol
/// <see cref="Protocol"/>: a stream is proved by <see cref="ProofPackets"/> consecutive packets of one SSRC with
/// sequence numbers in order, a steady timestamp step, and a payload that fits its codec (G.711/G.722 one byte per
/// sample-clock tick, G.729 ten bytes per 80, or an Opus packet whose own frame sizes add up to the step on a 48 kHz
/// clock, which is how a dynamic payload type is learnt). Both directions of the pair go to one call: the flow table
/// maps each party's endpoint, as signalling would. Video, RTCP, well-known ports and unknown codecs are never taken.
/// Capture thread only; allocates only when a stream is proved or a call starts.
/// </summary>
public sealed class UnsignalledRtpTracker
{
    /// <summary>The sidecar's protocol name.</summary>
    public const string Protocol = "rtp";

    /// <summary>Consecutive consistent packets that prove a stream (the earlier ones are counted, not recorded: 60 ms at 20 ms).</summary>
    public const int ProofPackets = 4;

    private const int LowestMediaPort = 1024; // below: DNS, NTP, SNMP, syslog... never RTP endpoints in practice
    private const int MinSamplesPerPacket = 40; // 5 ms at 8 kHz
    private const int MaxSamplesPerPacket = 5760; // 120 ms at 48 kHz, Opus' longest packet
    private const byte FirstDynamicType = 96;
    private const int OpusClock = 48_000; // RFC 7587: Opus RTP always counts at 48 kHz

    // No SDP says which dynamic type carries DTMF: 101 is what Asterisk, FreeSWITCH, Cisco and SIPp use. Events that are no
    // digit (another use of 101) are ignored by the recording.
    private const byte ConventionalTelephoneEventType = 101;

    private readonly CallBook _book;
    private readonly UnsignalledRtpOptions _options;
    private readonly Dictionary<FlowKey, Candidate> _candidates = [];
    private readonly List<FlowKey> _stale = [];
    private readonly List<(Call Call, string Id)> _calls = [];
    private readonly List<(Call Call, string Id)> _ending = [];

    private long _probePackets;
    private long _unrecordablePackets;
    private long _streams;
    private long _candidatesOverLimit;
    private long _afterCallEndPackets;
    private long _forkPackets;
    private long _otherHopPackets;
    private long _relayLegs;

    public UnsignalledRtpTracker(CallBook book, UnsignalledRtpOptions? options = null)
    {
        _book = book;
        _options = options ?? new UnsignalledRtpOptions();
    }

    public int ActiveCalls => _calls.Count;

    /// <summary>A UDP datagram that no call and no signalling protocol took.</summary>
    public UnsignalledRtpResult Offer(in DecodedPacket packet)
    {
        if (!_options.Enabled || packet.Source.Port < LowestMediaPort || packet.Destination.Port < LowestMediaPort
            || RtpPacket.TryRead(packet.Payload, out RtpPacket rtp, out _) != OperationStatus.Done
            || !MayBeAudio(rtp.PayloadType))
        {
            return UnsignalledRtpResult.NotRtp;
        }

        switch (_book.Media.QuietReasonOf(packet.Source, packet.Destination, packet.TimestampNs))
        {
            case QuietReason.AfterCallEnd:
                _afterCallEndPackets++;
                return UnsignalledRtpResult.Quiet;
            case QuietReason.ForkTarget:
                _forkPackets++;
                return UnsignalledRtpResult.Quiet;
            case QuietReason.OtherHop:
                _otherHopPackets++;
                return UnsignalledRtpResult.Quiet;
        }

        if (_book.Media.TryFindSsrc(rtp.Ssrc, out Call? relayed, out Channel speaker))
        {
            // A relay forwards a party's stream unchanged onto its other leg: that leg is the same call, not another one.
            // Its packets are that party's again (the recording drops them as duplicates, or fills a gap with them).
            _book.Media.Map(relayed!, packet.Source, speaker);
            _book.Media.Map(relayed!, packet.Destination, speaker.Other());
            _relayLegs++;
            return UnsignalledRtpResult.Recognised;
        }

        var key = new FlowKey(packet.Source, packet.Destination);
        ref Candidate c = ref CollectionsMarshal.GetValueRefOrNullRef(_candidates, key);
        if (Unsafe.IsNullRef(ref c))
        {
            if (_candidates.Count >= _options.MaxCandidates)
            {
                _candidatesOverLimit++;
                return UnsignalledRtpResult.NotRtp;
            }

            c = ref CollectionsMarshal.GetValueRefOrAddDefault(_candidates, key, out _);
            c.Restart(rtp, packet.TimestampNs);
            _probePackets++;
            return UnsignalledRtpResult.Probing;
        }

        c.LastNs = packet.TimestampNs;
        if (c.Unrecordable)
        {
            _unrecordablePackets++;
            return UnsignalledRtpResult.Unrecordable;
        }

        if (!c.Accept(rtp, packet.TimestampNs))
        {
            _probePackets++;
            return UnsignalledRtpResult.Probing;
        }

        if (c.Count < ProofPackets)
        {
            _probePackets++;
            return UnsignalledRtpResult.Probing;
        }

        AudioCodec codec = c.Codec;
        if (codec == AudioCodec.Unknown)
        {
            c.Unrecordable = true;
            _unrecordablePackets++;
            return UnsignalledRtpResult.Unrecordable;
        }

        _candidates.Remove(key);
        _streams++;
        StartCall(packet.Source, packet.Destination, c.PayloadType, codec, c.FirstNs);
        return UnsignalledRtpResult.Recognised;
    }

    /// <summary>Static audio types recorded or carried beside audio, and the dynamic range; never video (RFC 3551 26-34).</summary>
    private static bool MayBeAudio(byte payloadType) =>
        payloadType >= FirstDynamicType || payloadType is 0 or 8 or 9 or 13 or 18;

    private void StartCall(IpEndpoint16 speaker, IpEndpoint16 listener, byte payloadType, AudioCodec codec, long startedNs)
    {
        PartyBinding? speakerBinding = _book.Attribute(null, speaker.Address, startedNs);
        PartyBinding? listenerBinding = _book.Attribute(null, listener.Address, startedNs);
        PartyInfo speakerParty = PartyAt(speaker, speakerBinding), listenerParty = PartyAt(listener, listenerBinding);
        bool swap = CallBook.SecondGoesLeft(speakerBinding, listenerBinding);
        string callId = string.Create(CultureInfo.InvariantCulture, $"{speaker}-{listener}");
        Call call = swap
            ? _book.Start(Protocol, callId, startedNs, listenerParty, listenerBinding, speakerParty, speakerBinding)
            : _book.Start(Protocol, callId, startedNs, speakerParty, speakerBinding, listenerParty, listenerBinding);
        call.Unsignalled = true;
        Channel speakerChannel = swap ? Channel.Right : Channel.Left;

        // Until the other direction shows its own numbering, assume it uses the same (static types mean what RFC 3551 says).
        var map = new PayloadMap();
        int clock = codec == AudioCodec.Opus ? OpusClock : 8000;
        map.Set(payloadType, codec, clock);
        if (payloadType != ConventionalTelephoneEventType)
        {
            map.Set(ConventionalTelephoneEventType, AudioCodec.TelephoneEvent, clock);
        }

        _book.SetPayloadMap(call, speakerChannel, map);
        _book.SetPayloadMap(call, speakerChannel.Other(), map);
        _book.Update(call, call.Metadata with { Codecs = [codec.Name()] });

        // Each party receives where it sends from (symmetric RTP, what nearly every phone and gateway does).
        _book.Media.Map(call, speaker, speakerChannel);
        _book.Media.Map(call, listener, speakerChannel.Other());
        _calls.Add((call, call.Id));
    }

    private static PartyInfo PartyAt(IpEndpoint16 endpoint, PartyBinding? binding) => new()
    {
        Ip = endpoint.Address.ToString(),
        Port = endpoint.Port,
        Extension = binding?.Extension,
    };

    /// <summary>Calls idle past <see cref="UnsignalledRtpOptions.IdleTimeout"/> end (at their last packet); stale candidates go.</summary>
    public void Expire(long nowNs)
    {
        _book.Media.ExpireQuiet(nowNs);
        long idleNs = _options.IdleTimeout.Ticks * 100;
        foreach (KeyValuePair<FlowKey, Candidate> c in _candidates)
        {
            if (nowNs - c.Value.LastNs > idleNs)
            {
                _stale.Add(c.Key);
            }
        }

        foreach (FlowKey key in _stale)
        {
            _candidates.Remove(key);
        }

        _stale.Clear();
        for (int i = _calls.Count - 1; i >= 0; i--)
        {
            (Call call, string id) = _calls[i];
            if (!IsOurs(call, id))
            {
                _calls.RemoveAt(i); // signalling took it over (or it ended otherwise): no longer ours to end
                continue;
            }

            long last = Math.Max(call.LastMediaNs, call.StartedNs);
            if (nowNs - last > idleNs)
            {
                _calls.RemoveAt(i);
                _book.End(call, CallEndReasons.Timeout, last);
            }
        }
    }

    /// <summary>Ends every call of ours (end of the capture, or shutdown).</summary>
    public void EndAll(long nowNs, string reason)
    {
        _ending.AddRange(_calls);
        _calls.Clear();
        foreach ((Call call, string id) in _ending)
        {
            if (IsOurs(call, id))
            {
                _book.End(call, reason, Math.Max(nowNs, call.LastMediaNs));
            }
        }

        _ending.Clear();
    }

    /// <summary>A pooled handle is ours while it still carries our call's id and nothing signalled took it over.</summary>
    private static bool IsOurs(Call call, string id) => call.Unsignalled && !call.Ended && ReferenceEquals(call.Id, id);

    public void WriteCounters(CounterWriter counters)
    {
        counters.Event("rtp_unsignalled_streams", _streams);
        counters.Event("rtp_unsignalled_probe_packets", _probePackets);
        counters.Event("rtp_unsignalled_unrecordable_packets", _unrecordablePackets);
        counters.Event("rtp_unsignalled_after_call_end_packets", _afterCallEndPackets);
        counters.Event("rtp_unsignalled_fork_packets", _forkPackets);
        counters.Event("rtp_other_hop_packets", _otherHopPackets);
        counters.Event("rtp_relay_legs_joined", _relayLegs);
        counters.Limit("rtp_unsignalled_candidates_over_limit", _candidatesOverLimit);
    }

    /// <summary>One direction of an address pair.</summary>
    private readonly record struct FlowKey(IpEndpoint16 Source, IpEndpoint16 Destination);

    /// <summary>A flow being proved: the last packet of its SSRC and how many in a row were consistent.</summary>
    private struct Candidate
    {
        public uint Ssrc;
        public ushort Sequence;
        public uint Timestamp;
        public byte PayloadType;
        public int Step; // timestamp ticks per packet, from the first pair
        public int Count;
        public long FirstNs;
        public long LastNs;
        public bool Opus; // every packet so far was an Opus packet of exactly Step samples at 48 kHz, all with OpusToc
        public byte OpusToc; // the first packet's TOC byte without its frame-count code
        public bool PayloadFits; // every packet's size fits its static codec
        public bool Unrecordable;

        public void Restart(in RtpPacket rtp, long atNs)
        {
            Ssrc = rtp.Ssrc;
            Sequence = rtp.SequenceNumber;
            Timestamp = rtp.Timestamp;
            PayloadType = rtp.PayloadType;
            Step = 0;
            Count = 1;
            FirstNs = LastNs = atNs;
            Opus = rtp.PayloadType >= FirstDynamicType && !rtp.Payload.IsEmpty;
            OpusToc = Opus ? (byte)(rtp.Payload[0] & 0xFC) : (byte)0;
            PayloadFits = true;
        }

        /// <summary>True when the packet continues the stream consistently (else the proof starts again from it).</summary>
        public bool Accept(in RtpPacket rtp, long atNs)
        {
            ushort seqStep = (ushort)(rtp.SequenceNumber - Sequence);
            if (rtp.Ssrc != Ssrc || seqStep is 0 or > 3)
            {
                Restart(rtp, atNs);
                return false;
            }

            if (rtp.PayloadType != PayloadType)
            {
                // Another type in the same stream (telephone-event, comfort noise): skipped, the stream stays on probation.
                Sequence = rtp.SequenceNumber;
                Timestamp = rtp.Timestamp;
                return false;
            }

            uint ticks = rtp.Timestamp - Timestamp;
            int perPacket = (int)Math.Min(ticks / seqStep, int.MaxValue);
            if (ticks % seqStep != 0 || perPacket is < MinSamplesPerPacket or > MaxSamplesPerPacket || (Step != 0 && perPacket != Step))
            {
                Restart(rtp, atNs);
                return false;
            }

            Step = perPacket;
            Sequence = rtp.SequenceNumber;
            Timestamp = rtp.Timestamp;
            Count++;
            PayloadFits &= FitsStaticCodec(PayloadType, rtp.Payload.Length, Step);
            // And the same configuration (mode, bandwidth, frame size, channels) in every TOC: a real encoder keeps it for
            // seconds, while an encrypted payload (DTLS-SRTP) whose first byte happens to parse would change it.
            Opus &= OpusPacket.SamplesAt48Khz(rtp.Payload) == Step && (rtp.Payload[0] & 0xFC) == OpusToc;
            return true;
        }

        /// <summary>What the proof says the stream carries; Unknown when nothing fits.</summary>
        public readonly AudioCodec Codec
        {
            get
            {
                if (PayloadType >= FirstDynamicType)
                {
                    return Opus ? AudioCodec.Opus : AudioCodec.Unknown;
                }

                AudioCodec codec = AudioCodecs.FromStaticPayloadType(PayloadType);
                return PayloadFits && codec.IsSpeech() ? codec : AudioCodec.Unknown;
            }
        }

        private static bool FitsStaticCodec(byte payloadType, int bytes, int ticks) => payloadType switch
        {
            0 or 8 or 9 => bytes == ticks, // G.711: a byte per sample; G.722: a byte per two 16 kHz samples, 8 kHz clock
            18 => bytes % 10 is 0 or 2 && bytes / 10 * 80 == ticks, // G.729: 10 bytes per 10 ms, an optional 2-byte SID
            _ => false,
        };
    }
}
