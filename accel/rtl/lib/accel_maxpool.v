// Max-pool over the windows of an accel_swu: BEATS positions per window, per-channel maximum of
// the positions inside the image (M_PAD positions never win, as in the golden model).
`default_nettype none
module accel_maxpool #(
    parameter C      = 8,
    parameter BITS   = 8,
    parameter SIGNED = 0,
    parameter BEATS  = 9
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [C*BITS-1:0] s_data,
    input  wire              s_pad,
    input  wire              s_last,
    input  wire              s_valid,
    output wire              s_ready,
    output reg  [C*BITS-1:0] m_data,
    output reg               m_last,
    output reg               m_valid,
    input  wire              m_ready
);
    reg [C*BITS-1:0] cur;
    reg have;
    reg [$clog2(BEATS + 1)-1:0] beat;
    wire end_beat = (beat == BEATS - 1);
    assign s_ready = !(end_beat && m_valid && !m_ready);
    wire push = s_valid && s_ready;
    // Per-channel compare as continuous assigns (no always-block loop: cheap in event-driven
    // simulators, the same logic in synthesis).
    wire [C*BITS-1:0] nxt;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire [BITS-1:0] a = cur[i*BITS +: BITS];
            wire [BITS-1:0] b = s_data[i*BITS +: BITS];
            wire a_wins = SIGNED ? ($signed(a) >= $signed(b)) : (a >= b);
            assign nxt[i*BITS +: BITS] = s_pad ? a : (!have ? b : (a_wins ? a : b));
        end
    endgenerate
    always @(posedge clk) begin
        if (push) cur <= nxt;
        if (push && end_beat) begin
            m_data <= nxt; m_last <= s_last;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            beat <= 0; have <= 1'b0; m_valid <= 1'b0;
        end else begin
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
