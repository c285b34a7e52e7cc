// Max-pool over the windows of an accel_swu: BEATS positions per window, per-channel maximum of
// the positions inside the image (M_PAD positions never win, as in the golden model).
// PE channels are compared per cycle (PE divides C): each window position comes as CF = C/PE
// beats of PE codes, chunk j = codes j*PE .. j*PE+PE-1 (an accel_swu with CHUNK = PE), while the
// running maxima rotate by PE channels a beat so that chunk j is always at the bottom of `cur`
// (a rotation is wiring, not LUTs; after CF beats the order is back). PE = C: one beat per
// position, all channels at once. The output is a whole pixel a beat.
`default_nettype none
module accel_maxpool #(
    parameter C      = 8,
    parameter BITS   = 8,
    parameter SIGNED = 0,
    parameter BEATS  = 9,
    parameter PE     = C
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [PE*BITS-1:0] s_data,
    input  wire              s_pad,      // the same on all of a position's beats
    input  wire              s_last,
    input  wire              s_valid,
    output wire              s_ready,
    output reg  [C*BITS-1:0] m_data,
    output reg               m_last,
    output reg               m_valid,
    input  wire              m_ready
);
    localparam CB  = C * BITS;
    localparam PB  = PE * BITS;
    localparam CF  = C / PE;
    localparam CFW = (CF > 1) ? $clog2(CF) : 1;
    reg [CB-1:0] cur;
    reg have;
    reg [$clog2(BEATS + 1)-1:0] beat;
    reg [CFW-1:0] chunk;
    wire last_chunk = (CF == 1) || (chunk == CF - 1);
    wire end_beat = (beat == BEATS - 1);
    // only a window's very last beat writes m_data: it waits for m_data to be taken
    assign s_ready = !(last_chunk && end_beat && m_valid && !m_ready);
    wire step = s_valid && s_ready;                     // one chunk compared
    wire push = step && last_chunk;                     // the position's last chunk
    wire [PB-1:0] a_chunk = cur[PB-1:0];
    wire [PB-1:0] b_chunk = s_data;
    // Per-channel compare as continuous assigns (no always-block loop: cheap in event-driven
    // simulators, the same logic in synthesis).
    wire [PB-1:0] nxt;
    genvar i;
    generate
        for (i = 0; i < PE; i = i + 1) begin : g_ch
            wire [BITS-1:0] a = a_chunk[i*BITS +: BITS];
            wire [BITS-1:0] b = b_chunk[i*BITS +: BITS];
            wire a_wins = SIGNED ? ($signed(a) >= $signed(b)) : (a >= b);
            assign nxt[i*BITS +: BITS] = s_pad ? a : (!have ? b : (a_wins ? a : b));
        end
    endgenerate
    wire [CB-1:0] rot;
    generate
        if (CF == 1) begin : g_full
            assign rot = nxt;
        end else begin : g_rot
            assign rot = {nxt, cur[CB-1:PB]};
        end
    endgenerate
    always @(posedge clk) begin
        if (step) cur <= rot;
        if (push && end_beat) begin
            m_data <= rot; m_last <= s_last;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            beat <= 0; have <= 1'b0; m_valid <= 1'b0; chunk <= 0;
        end else begin
            if (step && CF > 1) chunk <= last_chunk ? 0 : chunk + 1;
            if (push) begin
                beat <= end_beat ? 0 : beat + 1;
                have <= end_beat ? 1'b0 : (have || !s_pad);
            end
            if (push && end_beat) m_valid <= 1'b1;
            else if (m_ready) m_valid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
