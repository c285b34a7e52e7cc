// Global average pool, exact (golden global_avgpool / arith.avg_requantize): per channel, the sum
// of the NPIX codes, then round_half_even(sum * 2^SH / NPIX) (SH < 0: sum / (NPIX << -SH)),
// saturated to [LO, HI]. The division is a bit-serial long division, one channel at a time: the
// pool sits at the end of the net where a few hundred cycles per image cost nothing. A negative
// sum is made non-negative by adding DEN * 2^M (M >= 1 keeps the quotient's parity for the tie rule).
`default_nettype none
module accel_gap #(
    parameter C        = 10,
    parameter BITS     = 8,
    parameter SIGNED   = 1,
    parameter NPIX     = 9,
    parameter SH       = 0,    // out_frac - in_frac
    parameter OUT_BITS = 8,
    parameter LO       = -128,
    parameter HI       = 127
) (
    input  wire                  clk,
    input  wire                  rst_n,
    input  wire [C*BITS-1:0]     s_data,
    input  wire                  s_last,
    input  wire                  s_valid,
    output wire                  s_ready,
    output reg  [C*OUT_BITS-1:0] m_data,
    output reg                   m_last,
    output reg                   m_valid,
    input  wire                  m_ready
);
    localparam SW  = BITS + $clog2(NPIX + 1) + 1;        // signed sum width
    localparam LSH = (SH > 0) ? SH : 0;
    localparam DEN = (SH >= 0) ? NPIX : (NPIX << (-SH));
    localparam NW  = SW + LSH;                            // signed numerator width
    localparam M   = NW;                                  // offset 2^M * DEN > |numerator|
    localparam DB  = $clog2(DEN + 1);
    localparam UW  = NW + DB + 2;                         // unsigned offset numerator width
    localparam CW  = (C > 1) ? $clog2(C) : 1;

    localparam S_ACC = 2'd0, S_DIV = 2'd1, S_OUT = 2'd2;
    reg [1:0] state;
    reg [SW*C-1:0] sums;
    reg [$clog2(NPIX + 1)-1:0] pix;
    reg [CW-1:0] ch;
    reg [$clog2(UW + 2):0] bitn;
    reg [UW-1:0] dvd, quo;
    reg [DB:0] rem;
    reg last_q;
    assign s_ready = (state == S_ACC);

    integer i;
    reg [SW*C-1:0] sums_next;
    always @* begin
        for (i = 0; i < C; i = i + 1)
            sums_next[i*SW +: SW] = (pix == 0 ? {SW{1'b0}} : sums[i*SW +: SW]) +
                (SIGNED ? {{SW{s_data[i*BITS + BITS - 1]}}, s_data[i*BITS +: BITS]}
                        : {{SW{1'b0}}, s_data[i*BITS +: BITS]});
    end
    // numerator of the selected channel, offset to be non-negative
    wire signed [SW-1:0] sum_ch = sums[SW-1:0];  // sums rotate: the current channel is lowest
    wire signed [UW-1:0] num    = $signed(sum_ch) <<< LSH;
    localparam [UW-1:0] OFFSET  = DEN << M;
    wire [UW-1:0] num_off = num + OFFSET;
    // long division step
    wire [DB:0]   rem_sh = {rem[DB-1:0], dvd[UW-1]};
    wire          ge     = rem_sh >= DEN;
    wire [DB:0]   rem_nx = ge ? rem_sh - DEN : rem_sh;
    wire [UW-1:0] quo_nx = {quo[UW-2:0], ge};
    // rounding of the finished channel: q = quo - 2^M, half-even on the remainder
    wire signed [UW+1:0] q    = $signed({2'b00, quo}) - ($signed({{(UW+1){1'b0}}, 1'b1}) <<< M);
    wire [DB+1:0]        twice = {rem, 1'b0};
    wire up = (twice > DEN) || ((twice == DEN) && quo[0]);
    wire signed [UW+1:0] y = q + $signed({1'b0, up});
    wire [SW*C-1:0] sums_rot;
    wire [C*OUT_BITS-1:0] m_shift;
    generate
        if (C == 1) begin : g_one
            assign sums_rot = sums;
            assign m_shift = sat[OUT_BITS-1:0];
        end else begin : g_many
            assign sums_rot = {sums[SW-1:0], sums[SW*C-1:SW]};
            assign m_shift = {sat[OUT_BITS-1:0], m_data[C*OUT_BITS-1:OUT_BITS]};
        end
    endgenerate
    localparam signed [UW+1:0] LO_E = LO;
    localparam signed [UW+1:0] HI_E = HI;
    wire signed [UW+1:0] sat = (y < LO_E) ? LO_E : ((y > HI_E) ? HI_E : y);

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            state <= S_ACC; pix <= 0; ch <= 0; bitn <= 0; m_valid <= 1'b0; m_last <= 1'b0;
        end else begin
            case (state)
            S_ACC: if (s_valid) begin
                sums <= sums_next;
                if (pix == NPIX - 1) begin
                    pix <= 0; last_q <= s_last; state <= S_DIV; ch <= 0; bitn <= 0;
                end else begin
                    pix <= pix + 1;
                end
            end
            S_DIV: begin
                if (bitn == 0) begin                  // load this channel's numerator
                    dvd <= num_off; quo <= 0; rem <= 0; bitn <= 1;
                    sums <= sums_rot;
                end else if (bitn <= UW) begin        // UW division steps
                    rem <= rem_nx; quo <= quo_nx; dvd <= {dvd[UW-2:0], 1'b0};
                    bitn <= bitn + 1;
                end else begin                        // store the rounded, saturated code
                    m_data <= m_shift;                // results shift in from the top
                    bitn <= 0;
                    if (ch == C - 1) begin
                        ch <= 0; state <= S_OUT; m_valid <= 1'b1; m_last <= last_q;
                    end else begin
                        ch <= ch + 1;
                    end
                end
            end
            default: if (m_ready) begin
                m_valid <= 1'b0; state <= S_ACC;
            end
            endcase
        end
    end
endmodule
`default_nettype wire
